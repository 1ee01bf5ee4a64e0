#!/usr/bin/env python3
"""PyTorch reference for native-bench/steps.mjs, which drives it over stdin/stdout so the
tfjs-hpo step and the torch step of each case are timed alternately in the same run.
Same models, batch sizes and data (the first batch*steps training images, preloaded as
float tensors), autograd + torch.optim.SGD, one thread, on whatever BLAS torch loads
(the first line it prints says which).

    python3 native-bench/torch_steps.py --blas       # which BLAS torch uses here, then exit
    python3 native-bench/torch_steps.py --serve      # the protocol below (steps.mjs)

Protocol, one JSON object a line. Out first: {"torch", "blas", "threads"}. Then in:
{"prep": {"model", "batch", "steps", "lr", "hidden"?, "dropout"?}} -> builds the model and runs one
warm-up epoch, out {"ok": true}; {"time": true} -> one timed epoch, out {"us": microseconds per step}.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'peer'))
import torchref  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--serve', action='store_true')
p.add_argument('--blas', action='store_true')
p.add_argument('--data-dir', default=torchref.DATA_DIR)
a = p.parse_args()
torchref.set_single_thread_env(a.threads)
import torch  # noqa: E402

torch.set_num_threads(a.threads)
torch.manual_seed(0)
hello = {'torch': torch.__version__, 'blas': torchref.blas_info(), 'threads': torch.get_num_threads()}
print(json.dumps(hello), flush=True)
if a.blas or not a.serve:
    if not a.serve and not a.blas:
        print('nothing to do: --serve (driven by native-bench/steps.mjs) or --blas', file=sys.stderr)
    sys.exit(0)

X, Y, _, _ = torchref.load_fashion(a.data_dir)
run = None
for line in sys.stdin:
    msg = json.loads(line)
    if 'prep' in msg:
        c = msg['prep']
        n = c['batch'] * c['steps']
        model = torchref.make_model(c['model'], c.get('hidden', 256), c.get('dropout', 0.0))
        run = torchref.SgdEpochs(model, X[:n], Y[:n], c['batch'], c['lr'])
        run.epoch()  # warm-up, as ours
        out = {'ok': True}
    elif 'time' in msg:
        t0 = time.perf_counter()
        run.epoch()
        out = {'us': (time.perf_counter() - t0) / (run.X.shape[0] / run.B) * 1e6}
    else:
        out = {'error': f'unknown message {line.strip()}'}
    print(json.dumps(out), flush=True)
