"""Cross-runtime check of tinta's exported models, for a machine with Python and ONNX Runtime
(and optionally the onnx package and a CUDA GPU). Reads the folder bench/gpu/reference.ts wrote:
  1. onnx.checker.check_model(full_check=True) on every model (skipped if onnx is missing);
  2. ONNX Runtime (Python) on CPU, then on CUDA when available: max |difference| to the
     onnxruntime-node output recorded in the manifest;
  3. median latency of each provider at the recorded size and at 1024x1024 (ratios, same run).
Run: python3 bench/gpu/check_models.py FOLDER
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

folder = sys.argv[1]
manifest = json.load(open(os.path.join(folder, "manifest.json")))
try:
    import onnx
    from onnx import checker
except ImportError:  # the check is optional; say so
    onnx = None
print(f"onnxruntime {ort.__version__}, providers {ort.get_available_providers()}, onnx {onnx.__version__ if onnx else 'missing'}")
providers = [p for p in ("CPUExecutionProvider", "CUDAExecutionProvider") if p in ort.get_available_providers()]


def load(entry, key):
    return [np.fromfile(os.path.join(folder, t["file"]), dtype="<f4").reshape(t["dims"]) for t in entry[key]]


def latency(sess, feeds, runs=10):
    sess.run(None, feeds)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, feeds)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


for entry in manifest:
    path = os.path.join(folder, entry["model"])
    line = [entry["model"]]
    if onnx:
        try:
            checker.check_model(onnx.load(path), full_check=True)
            line.append("checker ok")
        except Exception as e:  # report, keep going with the runtime checks
            line.append(f"checker FAILED: {str(e).splitlines()[0][:300]}")
    print("  ".join(line))
    inputs = load(entry, "inputs")
    expected = load(entry, "outputs")
    for prov in providers:
        try:
            sess = ort.InferenceSession(path, providers=[prov])
        except Exception as e:
            print(f"  {prov}: session FAILED: {str(e)[:300]}")
            continue
        ran = sess.get_providers()[0]
        feeds = {t["name"]: x for t, x in zip(entry["inputs"], inputs)}
        got = sess.run(None, feeds)
        diffs = [float(np.max(np.abs(g.astype(np.float32) - e))) for g, e in zip(got, expected)]
        means = [float(np.mean(np.abs(g.astype(np.float32) - e))) for g, e in zip(got, expected)]
        # Per-pixel bucket agreement (argmax over the bucket axis) for [N, Q, H, W] outputs.
        agree = [float(np.mean(np.argmax(g, axis=1) == np.argmax(e, axis=1))) for g, e in zip(got, expected) if e.ndim == 4]
        big = {}
        for t, x in zip(entry["inputs"], inputs):
            if x.ndim == 4:
                reps = int(np.ceil(1024 / x.shape[2]))
                big[t["name"]] = np.tile(x, (1, 1, reps, reps))[:, :, :1024, :1024].copy()
            else:
                big[t["name"]] = x
        ms = latency(sess, feeds)
        ms_big = latency(sess, big, runs=5)
        print(f"  {prov} (ran on {ran}): max |diff| to onnxruntime-node {max(diffs):.2e}, mean {max(means):.2e}, bucket agreement {100 * min(agree) if agree else float('nan'):.2f}%; median {ms:.2f} ms at {inputs[0].shape[2]}x{inputs[0].shape[3]}, {ms_big:.2f} ms at 1024x1024")
