/** A gradient worker: one model replica on its own core (tfjs WASM is single-threaded in Node). */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.ts';
import { buildModel } from '../model.ts';
import { applyGradients, batchTensors, computeGradients, stateVariables, trainableVariables, type BatchTensors } from '../step.ts';
import { regionOffsets, type FromWorker, type ToWorker, type WorkerInit } from './protocol.ts';
import { isTintaError } from '../../sdk/errors.ts';
import { bucketsFromCenters } from '../../sdk/color/buckets.ts';
import { openDataset } from '../data/dataset.ts';
import { buildSamples } from './shard.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);

async function start(): Promise<void> {
  await initBackend(init.backend);
  const model = buildModel(init.modelConfig, { inputSize: init.inputSize });
  const initial = init.weights.map((w, i) => tf.tensor(w, model.weights[i]!.shape as number[]));
  model.setWeights(initial);
  tf.dispose(initial);
  const optimizer = tf.train.adam(1e-3, init.adam.beta1, init.adam.beta2, init.adam.epsilon);
  if (init.optimizer.length) {
    const slots = init.optimizer.map((o) => ({ name: o.name, tensor: tf.tensor(o.data, o.shape) }));
    await optimizer.setWeights(slots);
  }
  const vars = trainableVariables(model);
  const state = stateVariables(model);
  const bucketWeights = init.bucketWeights ? tf.tensor1d(init.bucketWeights) : undefined;
  const off = regionOffsets(init.layout);
  const shared = new Float32Array(init.shared);
  // With a photo cache, this replica builds its own shards from sample indices ('grads-samples').
  const data = init.data ? { dataset: await openDataset(init.data.cacheDir), buckets: bucketsFromCenters(init.data.buckets.centers, init.data.buckets.name, init.data.buckets.step) } : undefined;

  /** Gradients of one shard into this replica's slot; returns the shard's loss. */
  const gradients = (batch: BatchTensors): number => {
    const { loss, grads } = computeGradients(model, batch, bucketWeights);
    tf.dispose([batch.L, batch.target, batch.embedding]);
    let o = off.gradSlot(init.index);
    for (const g of grads) {
      const d = g.dataSync() as Float32Array;
      shared.set(d, o);
      o += d.length;
    }
    tf.dispose(grads);
    o = off.stateSlot(init.index);
    for (const s of state) {
      const d = s.dataSync() as Float32Array;
      shared.set(d, o);
      o += d.length;
    }
    return loss;
  };

  port.on('message', (m: ToWorker) => {
    try {
      if (m.type === 'exit') {
        data?.dataset.close();
        port.close();
        process.exit(0);
      }
      if (m.type === 'grads' || m.type === 'grads-samples') {
        const t0 = performance.now();
        let batch: BatchTensors;
        if (m.type === 'grads') batch = batchTensors(m);
        else if (data) batch = batchTensors(buildSamples(data, m.samples));
        else throw new Error('grads-samples: this worker was started without a photo cache');
        const n = m.type === 'grads' ? m.n : m.samples.indices.length;
        const loss = gradients(batch);
        send({ type: 'grads-done', index: init.index, loss, n, computeMs: performance.now() - t0 });
        return;
      }
      if (m.type === 'apply') {
        let o = off.meanGrads;
        const grads = vars.map((v) => {
          const t = tf.tensor(shared.subarray(o, o + v.size), v.shape);
          o += v.size;
          return t;
        });
        const gradNorm = applyGradients(optimizer, vars, grads, { learningRate: m.learningRate, clipNorm: m.clipNorm, step: m.step, loss: m.loss });
        o = off.meanState;
        for (const s of state) {
          const t = tf.tensor(shared.subarray(o, o + s.size), s.shape);
          s.assign(t);
          t.dispose();
          o += s.size;
        }
        send({ type: 'applied', index: init.index, gradNorm });
      }
    } catch (e) {
      send({ type: 'error', index: init.index, error: { code: isTintaError(e) ? e.code : undefined, message: (e as Error).message, stack: (e as Error).stack } });
    }
  });
  send({ type: 'ready', index: init.index });
}

start().catch((e) => send({ type: 'error', index: init.index, error: { message: (e as Error).message, stack: (e as Error).stack } }));
