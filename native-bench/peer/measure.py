#!/usr/bin/env python3
"""Run one command and print one JSON line: its wall time and peak RSS (wait4), as
optuna_study.py launch measures the peer's processes, so both sides are measured alike.
The command's own stdout goes to stderr.

    python3 measure.py -- node dist/src/cli/main.js run ...
"""
import json
import os
import subprocess
import sys
import time

argv = sys.argv[1:]
if argv[:1] == ['--']:
    argv = argv[1:]
if not argv:
    raise SystemExit('usage: measure.py -- command [args...]')
t0 = time.perf_counter()
p = subprocess.Popen(argv, stdout=sys.stderr)
_, status, ru = os.wait4(p.pid, 0)
wall = time.perf_counter() - t0
p.returncode = code = os.waitstatus_to_exitcode(status)
print(json.dumps({'wall_s': wall, 'maxrss_kb': ru.ru_maxrss, 'code': code}))
sys.exit(0 if code == 0 else 1)
