// End to end: tiny photos -> `tinta embed` with the test ONNX classifier -> `train --fusion` (one
// replica and the worker pool) -> the checkpoint names the embedding source -> export gives an ONNX
// model with an embedding input whose metadata names the source; the checkpoint records how the
// embeddings were made, and a resume with embeddings made otherwise (or an old cache) is refused.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { isTintaError } from '../sdk/errors.ts';
import { initBackend } from '../trainer/backend.ts';
import { train, type TrainEvent } from '../trainer/train.ts';
import { readCheckpoint } from '../trainer/checkpoint.ts';
import { embedImages } from '../trainer/embedding/embed.ts';
import { descriptorToJson } from '../trainer/embedding/descriptor.ts';
import { exportCheckpoint } from '../converters/export.ts';
import { CLASSES, classifierWeights, onnxClassifier, testDescriptor, writePhotos } from './embedding-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'tinta-embedding-train-'));
const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const all = join(root, 'photos'), some = join(root, 'embedded-photos'), cache = join(root, 'embeddings');
const SMALL = { preset: 'tiny' as const, widthMultiplier: 0.25, size: 32, batchSize: 2, epochs: 1, lr: 1e-3, backend: 'wasm' as const, valFraction: 0, valLimit: 4, checkpointMinutes: 60 };

before(async () => {
  await initBackend('wasm');
  const photos = await writePhotos(all, 6, 48, 40, 21);
  // The cache covers five of the six photos: the sixth must be skipped and counted.
  mkdirSync(some, { recursive: true });
  for (const p of photos.slice(0, 5)) copyFileSync(p, join(some, p.split('/').pop()!));
  const model = join(root, 'testnet.onnx'), descriptor = join(root, 'testnet.json');
  writeFileSync(model, onnxClassifier(classifierWeights(5)));
  writeFileSync(descriptor, JSON.stringify(descriptorToJson(testDescriptor('NCHW'))));
  const r = await embedImages({ data: [some], out: cache, embedding: model, descriptor });
  assert.equal(r.embedded, 5);
});

describe('training with fusion', () => {
  for (const workers of [1, 2]) {
    test(`${workers === 1 ? 'one replica' : 'the worker pool (2 replicas)'}: 2 steps, validation, checkpoint with the source, export with an embedding input`, async () => {
      const out = join(root, `run-${workers}`);
      const events: TrainEvent[] = [];
      const r = await train({ ...SMALL, data: [all], out, fusion: true, embeddings: cache, workers, onEvent: (e) => events.push(e) });
      assert.equal(r.step, 2, 'five photos, batch 2: two steps make the epoch');
      assert.ok(events.some((e) => e.type === 'notice' && /1 training and 0 validation photos have no embedding/.test(e.message)));
      const data = events.find((e) => e.type === 'data') as Extract<TrainEvent, { type: 'data' }>;
      assert.equal(data.train, 5);
      const val = events.find((e) => e.type === 'validation') as Extract<TrainEvent, { type: 'validation' }>;
      assert.ok(Number.isFinite(val.valLoss) && val.valLoss > 0, `validation loss ${val.valLoss}`);
      const report = JSON.parse(readFileSync(join(out, 'data-report.json'), 'utf8')) as { withoutEmbedding: { train: number; val: number } };
      assert.deepEqual(report.withoutEmbedding, { train: 1, val: 0 });

      const ck = readCheckpoint(r.bestCheckpoint);
      const cfg = ck.header.config as { fusion: boolean; embedding: { source: string; dim: number }; model: { embeddingDim: number } };
      assert.deepEqual([cfg.fusion, cfg.embedding, cfg.model.embeddingDim], [true, { source: 'testnet', dim: CLASSES, gray: 'srgb', network: { resolution: 256, multiple: 8 } }, CLASSES]);

      const onnxPath = join(root, `fusion-${workers}.onnx`);
      const ex = await exportCheckpoint(r.bestCheckpoint, { output: onnxPath });
      assert.deepEqual(ex.info.embedding, { input: 'embedding', dim: CLASSES, source: 'testnet' });
      const s = await ort.InferenceSession.create(onnxPath);
      try {
        assert.deepEqual([...s.inputNames].sort(), ['L', 'embedding']);
        const emb = new Float32Array(CLASSES).fill(1 / CLASSES);
        const o = await s.run({ L: new ort.Tensor('float32', new Float32Array(32 * 32).fill(0.5), [1, 1, 32, 32]), embedding: new ort.Tensor('float32', emb, [1, CLASSES]) });
        assert.deepEqual(o[s.outputNames[0]!]!.dims, [1, 112, 8, 8]);
      } finally {
        await s.release();
      }
    });
  }

  test('a resume with embeddings made with another gray value, or a cache from the old recipe, is refused', async () => {
    const out = join(root, 'run-resume');
    await train({ ...SMALL, data: [all], out, fusion: true, embeddings: cache, workers: 1, maxSteps: 1 });
    const lightness = join(root, 'embeddings-lightness');
    await embedImages({ data: [some], out: lightness, embedding: join(root, 'testnet.onnx'), descriptor: join(root, 'testnet.json'), gray: 'lightness' });
    await assert.rejects(train({ ...SMALL, data: [all], out, fusion: true, embeddings: lightness, workers: 1, resume: true }),
      (e) => isTintaError(e, 'CONFIG_CONFLICT') && /embedding preprocessing: checkpoint has \{"gray":"srgb".*requested \{"gray":"lightness"/.test((e as Error).message));
    // A version-1 header: vectors from a Lanczos resize of the photo, not from the SDK's L.
    const old = join(root, 'embeddings-v1');
    mkdirSync(old, { recursive: true });
    const header = JSON.parse(readFileSync(join(cache, 'embeddings.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(old, 'embeddings.json'), JSON.stringify({ ...header, version: 1, preprocessing: undefined }));
    await assert.rejects(train({ ...SMALL, data: [all], out: join(root, 'run-v1'), fusion: true, embeddings: old, workers: 1 }),
      (e) => isTintaError(e, 'CONFIG_CONFLICT') && /earlier `tinta embed`.*Embed the photos again/s.test((e as Error).message));
  });

  test('--fusion without --embeddings, or --embeddings without --fusion, is a clear error', async () => {
    await assert.rejects(train({ ...SMALL, data: [all], out: join(root, 'no-emb'), fusion: true, workers: 1 }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /tinta embed --data DIR --embedding mobilenetv2 --out CACHE/.test((e as Error).message));
    await assert.rejects(train({ ...SMALL, data: [all], out: join(root, 'no-fusion'), fusion: false, embeddings: cache, workers: 1 }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /only used with --fusion/.test((e as Error).message));
    await assert.rejects(train({ ...SMALL, data: [all], out: join(root, 'bad-cache'), fusion: true, embeddings: join(root, 'nothing'), workers: 1 }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /holds no embedding cache/.test((e as Error).message));
  });

  test('tinta train --fusion --embeddings runs from the command line', async () => {
    const out = join(root, 'run-cli');
    const r = await promisify(execFile)(process.execPath, [BIN, 'train', '--data', all, '--out', out, '--fusion', '--embeddings', cache, '--size', '64', '--width', '0.25',
      '--epochs', '1', '--batch', '2', '--max-steps', '1', '--workers', '1', '--backend', 'wasm', '--val-fraction', '0'], { encoding: 'utf8', timeout: 180_000 });
    assert.match(r.stdout, /fusion: 1 training and 0 validation photos have no embedding/);
    assert.match(r.stdout, /stopped at step 1/);
    const cfg = readCheckpoint(join(out, 'checkpoints', 'last.tinta')).header.config as { embedding: { source: string } };
    assert.equal(cfg.embedding.source, 'testnet');
  });
});
