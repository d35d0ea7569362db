/**
 * Headless Chromium for the browser tests: the system's Debian `chromium` (never a downloaded
 * browser), driven by playwright-core. When it is missing, tests skip locally and fail under CI.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';

/** The Chromium binary: $TINTA_CHROMIUM, else /usr/bin/chromium; null when absent. */
export function chromiumPath(): string | null {
  const p = process.env.TINTA_CHROMIUM ?? '/usr/bin/chromium';
  return existsSync(p) ? p : null;
}

/** Why browser tests cannot run here, or null when they can. Under CI=true a missing browser is an error, not a skip. */
export function chromiumMissing(): string | null {
  if (chromiumPath()) return null;
  const msg = 'Chromium is not installed (looked for $TINTA_CHROMIUM or /usr/bin/chromium); install it with `apt-get install -y --no-install-recommends chromium` (.ci/run does).';
  if (process.env.CI === 'true') throw new Error(`CI=true: the browser tests must run, but ${msg}`);
  return msg;
}

/** A browser test file's gate: `skip` for its tests' options, `check` as its first test (fails under CI=true without Chromium, else skips). */
export function chromiumGate(): { skip: string | false; check(t: TestContext): void } {
  let missing: string | null = null;
  let missingError: unknown;
  try {
    missing = chromiumMissing();
  } catch (e) {
    missingError = e; // CI=true without Chromium: the first test fails with this
  }
  return {
    skip: missing ?? (missingError ? 'Chromium is missing (see the first test)' : false),
    check(t) {
      if (missingError) throw missingError;
      if (missing) t.skip(missing);
    },
  };
}

const BASE_FLAGS = ['--headless', '--no-sandbox', '--no-first-run', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** No GPU: navigator.gpu.requestAdapter() returns null. */
export const NO_GPU_FLAGS = ['--disable-gpu'];
/** WebGPU on SwiftShader (a CPU Vulkan): slow, for functional checks only. */
export const SWIFTSHADER_WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan'];

/** A fresh Chromium with its own profile folder; close() removes it. */
export async function launchChromium(flags: string[]): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('Chromium is not installed');
  const profile = mkdtempSync(join(tmpdir(), 'tinta-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: [...BASE_FLAGS, ...flags], timeout: 120_000 });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
