/**
 * What the exporter reads from a checkpoint header besides the network: the bucket table and the
 * provenance, as the trainer writes them. The bucket table is accepted in every form tinta writes
 * one: a scheme name, a bucket count of a built-in scheme, `serializeBuckets` JSON, or a
 * `{ name, step, centers }` object.
 */
import { createRequire } from 'node:module';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { bucketsFromCenters, getBuckets, parseBuckets, type AbBuckets } from '../sdk/color/buckets.ts';
import type { CheckpointHeader } from '../trainer/checkpoint.ts';

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined;
}

/** A bucket table from any of the forms a config may hold; undefined when `raw` is none of them. */
export function bucketsFromValue(raw: unknown): AbBuckets | undefined {
  if (raw === 'seed' || raw === 'zhang313') return getBuckets(raw);
  if (raw === 112) return getBuckets('seed');
  if (raw === 313) return getBuckets('zhang313');
  if (typeof raw === 'string' && raw.trimStart().startsWith('{')) return parseBuckets(raw);
  const o = rec(raw);
  if (o && (Array.isArray(o.centers) || ArrayBuffer.isView(o.centers))) {
    return bucketsFromCenters(o.centers as ArrayLike<number>, typeof o.name === 'string' ? o.name : 'custom', typeof o.step === 'number' ? o.step : 0);
  }
  if (o && typeof o.scheme === 'string') return bucketsFromValue(o.scheme);
  return undefined;
}

/**
 * The checkpoint's bucket table (the trainer keeps it in config.buckets), checked against the
 * network's output channels `q`; a 112-channel model without one uses the seed table, the trainer's default.
 */
export function checkpointBuckets(header: Pick<CheckpointHeader, 'config' | 'data'>, q: number): { buckets: AbBuckets; source: string } {
  const raw = rec(header.config)?.buckets;
  if (raw !== undefined && raw !== null) {
    let t: AbBuckets | undefined;
    try {
      t = bucketsFromValue(raw);
    } catch (e) {
      throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint's config.buckets is not a usable bucket table: ${(e as Error).message}`, { cause: e });
    }
    if (!t) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint's config.buckets (${JSON.stringify(raw).slice(0, 80)}) is not a bucket table.`);
    if (t.count !== q) {
      throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint's config.buckets has ${t.count} buckets but the network predicts ${q}.`, { details: { buckets: t.count, outputs: q } });
    }
    return { buckets: t, source: 'config.buckets' };
  }
  if (q === 112) return { buckets: getBuckets('seed'), source: 'default (seed)' };
  throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint names no bucket table (config.buckets) for its ${q} outputs.`);
}

/** The installed tinta's version (package.json). */
export function tintaVersion(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

// The data section may hold large arrays (the bucket prior); provenance keeps its scalar facts.
function summarise(data: unknown): Rec {
  const out: Rec = {};
  for (const [k, v] of Object.entries(rec(data) ?? {})) {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

/** Provenance for the model metadata: preset, training size, epochs, steps, data summary, export time and tinta version. */
export function checkpointProvenance(header: Pick<CheckpointHeader, 'config' | 'state' | 'data' | 'createdAt' | 'modelTopology'>): Rec {
  const cfg = rec(header.config) ?? {};
  const state = rec(header.state) ?? {};
  // The model is named tinta_<preset> by the trainer, so even a bare checkpoint tells its preset.
  const topoName = rec(rec(header.modelTopology)?.config)?.name;
  const fromName = typeof topoName === 'string' ? /^tinta_(\w+)$/.exec(topoName)?.[1] : undefined;
  return {
    preset: cfg.preset ?? fromName ?? null,
    size: cfg.size ?? null,
    epochs: state.epoch ?? null,
    steps: state.step ?? null,
    data: summarise(header.data),
    checkpointCreatedAt: header.createdAt ?? null,
    exportedAt: new Date().toISOString(),
    tintaVersion: tintaVersion(),
  };
}

/** The embedding source a fusion checkpoint names (e.g. 'mobilenetv2'), if any. */
export function checkpointEmbeddingSource(header: Pick<CheckpointHeader, 'config'>): string | undefined {
  const v = rec(rec(header.config)?.embedding)?.source;
  return typeof v === 'string' ? v : undefined;
}
