#!/usr/bin/env python3
"""PyTorch's matmul (its BLAS, one thread) on the products native-bench/gemm.mjs measures,
timed the way gemm.mjs times an op: the median of 3 batches of `calls` calls, per call.

Protocol, one JSON object a line. Out first: {"torch", "blas", "threads"}. Then in:
{"M", "N", "K", "ta", "tb", "calls"} (op(A) [M, K] x op(B) [K, N], A stored [K, M] when ta,
B stored [N, K] when tb); out: {"us": microseconds per call}.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torchref  # noqa: E402

torch.set_num_threads(1)
print(json.dumps({'torch': torch.__version__, 'blas': torchref.blas_info(), 'threads': torch.get_num_threads()}), flush=True)
for line in sys.stdin:
    q = json.loads(line)
    M, N, K, calls = q['M'], q['N'], q['K'], q['calls']
    a = torch.randn(K, M).t() if q['ta'] else torch.randn(M, K)
    b = torch.randn(N, K).t() if q['tb'] else torch.randn(K, N)
    per = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b)
        per.append((time.perf_counter() - t0) / calls * 1e6)
    print(json.dumps({'us': sorted(per)[1]}), flush=True)
