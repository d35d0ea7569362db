/** `tinta models list`: the catalog (embedding networks and shipped tinta models) and what is present locally. */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SHIPPED_MODELS, shippedModelUrl } from '../../sdk/models/manifest.ts';
import { CLASSIFIERS, findLocal, modelsDir, sha256File, type ClassifierEntry } from './catalog.ts';

/** One row of the list. */
export interface ModelListing {
  name: string;
  kind: 'embedding' | 'colorizer';
  description: string;
  /** Where the file is (or would be). */
  path: string;
  present: boolean;
  /** True / false when a pinned sha256 was checked; null when there is none. */
  verified: boolean | null;
  bytes: number | null;
  /** Download address (embedding networks), null when none exists. */
  url: string | null;
  licence?: string;
}

/** Every catalog entry with its local state; `dir` is the models folder for embedding networks. */
export async function listModels(dir?: string, catalog: Readonly<Record<string, ClassifierEntry>> = CLASSIFIERS): Promise<{ dir: string; models: ModelListing[] }> {
  const d = modelsDir(dir);
  const models: ModelListing[] = [];
  for (const e of Object.values(catalog)) {
    const l = await findLocal(e, d);
    models.push({
      name: e.name, kind: 'embedding', description: e.description, path: l.path, present: l.present, verified: l.verified,
      bytes: l.bytes ?? e.bytes, url: e.url, licence: e.licence,
    });
  }
  for (const [name, m] of Object.entries(SHIPPED_MODELS)) {
    const path = fileURLToPath(shippedModelUrl(m));
    const st = await stat(path).catch(() => undefined);
    const present = !!st?.isFile();
    const verified = present && m.sha256 !== null ? (await sha256File(path)) === m.sha256 : null;
    models.push({ name, kind: 'colorizer', description: m.description, path, present, verified, bytes: st?.size ?? null, url: null });
  }
  return { dir: d, models };
}
