/** SHA-256 through WebCrypto (browsers, Deno, Node >= 19 all have `crypto.subtle`). */

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  // WebCrypto accepts any BufferSource; a view of a SharedArrayBuffer is copied first.
  const src = bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', src as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (let i = 0; i < digest.length; i++) hex += digest[i]!.toString(16).padStart(2, '0');
  return hex;
}

/** True when `s` is a 64-digit hex SHA-256 (any case). */
export function isSha256(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{64}$/i.test(s);
}
