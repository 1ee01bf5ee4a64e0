#!/usr/bin/env python3
"""PyTorch reference for native-bench/steps.mjs: microseconds per SGD step, same models,
same batch sizes, data pre-loaded as tensors, batches by index_select of a permutation,
autograd + torch.optim.SGD. Writes native-bench/torch_steps.json (read by steps.mjs).

    python3 native-bench/torch_steps.py [--threads 1]
"""
import argparse, gzip, json, os, statistics, time
import numpy as np
import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=1)
p.add_argument('--runs', type=int, default=5)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

d = '/usr/share/datasets/fashion-mnist'
with gzip.open(f'{d}/train-images-idx3-ubyte.gz') as f:
    X = torch.from_numpy(np.frombuffer(f.read()[16:], dtype=np.uint8).copy()).float().div_(255).view(-1, 1, 28, 28)
with gzip.open(f'{d}/train-labels-idx1-ubyte.gz') as f:
    Y = torch.from_numpy(np.frombuffer(f.read()[8:], dtype=np.uint8).astype(np.int64))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


cases = [
    ('softmax b16', lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), 16, 1000),
    ('softmax b256', lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), 256, 200),
    ('MLP 784-128-10 b256 (dropout 0)', lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), 256, 100),
    ('MLP 784-128-10 b256 (dropout 0.2)', lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10)), 256, 100),
    ('LeNet b64', lenet, 64, 30),
]
rows = []
for name, make, B, steps in cases:
    model = make()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(B * steps)
        for s in range(steps):
            idx = perm[s * B:(s + 1) * B]
            x, y = X.index_select(0, idx), Y.index_select(0, idx)
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

    epoch()
    per = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        epoch()
        per.append((time.perf_counter() - t0) / steps * 1e6)
    rows.append({'id': name, 'us': statistics.median(per), 'min': min(per)})
    print(f'{name}: {statistics.median(per):.1f} us (min {min(per):.1f})')

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch_steps.json')
with open(out, 'w') as f:
    json.dump({'version': torch.__version__, 'threads': a.threads, 'rows': rows}, f, indent=1)
