/** Small helpers shared by the HTML reports of `tinta eval` and `tinta analyze` (self-contained pages). */

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A relative URL for a path inside the output folder (forward slashes, each segment encoded). */
export function relativeUrl(path: string): string {
  return path.split(/[\\/]/).map(encodeURIComponent).join('/');
}

/** The inline style sheet both reports use. */
export const REPORT_CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.3em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #888; }
.note { color: #666; font-size: 0.9em; }
.grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px 10px; align-items: start; }
.grid figure { margin: 0; }
.grid img { width: 100%; image-rendering: auto; display: block; }
.grid figcaption { font-size: 0.8em; color: #555; overflow-wrap: anywhere; }
.cluster { display: flex; gap: 1.5em; align-items: flex-start; margin: 1em 0 2em; flex-wrap: wrap; }
.thumbs img { height: 96px; margin: 0 4px 4px 0; }
.swatch { display: inline-block; width: 1em; height: 1em; vertical-align: middle; border: 1px solid #999; }
`;

/** A complete HTML page with the shared style sheet. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** A CSV field: quoted when it holds a comma, quote or line break. */
export function csvField(v: string | number | undefined | null): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : '') : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
