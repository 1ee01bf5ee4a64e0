// The Python peer (PyTorch, Optuna) as the benchmarks start it: which interpreter, a check
// that the modules are there (one clear line if not), and a child process spoken to in
// JSON lines (native-bench/torch_steps.py --serve).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * The interpreter: --python if given, else Debian's /usr/bin/python3 (python3-torch and
 * python3-optuna install into it, not into a pyenv or venv python3 earlier on PATH), else python3.
 */
export function pythonPath(explicit) {
  if (explicit) return explicit;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Exit 2 with one line unless `py` can import every module in `modules`. */
export function requirePython(py, modules, hint) {
  const r = spawnSync(py, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.error || r.status !== 0) {
    const why = r.error ? `${py} not found` : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    process.stderr.write(`the PyTorch peer needs ${modules.join(' and ')} in ${py}: ${why}. Install: apt-get install -y python3-torch python3-optuna libopenblas0-pthread dataset-fashion-mnist${hint ? ` (${hint})` : ''}\n`);
    process.exit(2);
  }
}

/** Environment for one-thread peer processes (OpenBLAS reads it when torch loads). */
export function singleThreadEnv(extra = {}) {
  return { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', ...extra };
}

/**
 * A child process answering one JSON line per JSON line sent. Lines on its stdout that are
 * not JSON objects (library banners) are skipped; stderr goes to ours.
 */
export function lineChild(name, cmd, argv, env) {
  const p = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'], env });
  const lines = [];
  const waiting = [];
  let exit;
  createInterface({ input: p.stdout }).on('line', (l) => {
    if (!l.startsWith('{')) return;
    const w = waiting.shift();
    if (w) w.resolve(l);
    else lines.push(l);
  });
  const fail = (why) => {
    exit = why;
    for (const w of waiting.splice(0)) w.reject(new Error(`${name}: ${why}`));
  };
  p.on('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`})`));
  p.on('error', (e) => fail(e.message));
  const next = () =>
    new Promise((resolve, reject) => {
      if (lines.length) resolve(lines.shift());
      else if (exit !== undefined) reject(new Error(`${name}: ${exit}`));
      else waiting.push({ resolve, reject });
    });
  const parse = (l) => {
    const o = JSON.parse(l);
    if (o.error) throw new Error(`${name}: ${o.error}`);
    return o;
  };
  return {
    /** The next line it prints, parsed. */
    read: async () => parse(await next()),
    /** Send one message; resolves with its answer. */
    ask: async (msg) => {
      p.stdin.write(JSON.stringify(msg) + '\n');
      return parse(await next());
    },
    close: () =>
      new Promise((resolve) => {
        if (exit !== undefined) return resolve();
        p.once('exit', () => resolve());
        p.stdin.end();
      }),
  };
}

/** Warn (stderr) when torch did not load OpenBLAS: the figures would not be a fair yardstick. */
export function warnUnlessOpenBlas(blas) {
  if (!/^OpenBLAS/.test(blas?.name ?? '')) {
    process.stderr.write(`warning: torch loaded ${blas?.name ?? 'an unknown BLAS'}, not OpenBLAS: apt-get install libopenblas0-pthread (check: update-alternatives --display libblas.so.3-x86_64-linux-gnu)\n`);
  }
}
