#!/usr/bin/env node
// Microseconds per training step of the built-in models, lean vs autograd, on every
// TensorFlow.js backend that loads. Run after `npx tsc -p tsconfig.json`:
//   node native-bench/steps.mjs [--backends tensorflow,wasm,cpu] [--runs 5] [--rounds 1] [--threads N] [--torch] [--no-write]
// --threads sets TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS for libtensorflow;
// --torch first runs native-bench/torch_steps.py (needs python3-torch) for a reference row.
// Each backend is measured in its own child process (tfjs-node and the wasm backend both
// patch the global engine). Writes the "## Training step" section of native-bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuModel, writeSection } from './results.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(root, 'package.json'));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};

// name, model, params, batch, steps per timed run per backend
const CASES = [
  { id: 'softmax b16', model: 'softmax', params: { learning_rate: 0.1, batch_size: 16 }, steps: { tensorflow: 1000, wasm: 500, cpu: 200 } },
  { id: 'softmax b256', model: 'softmax', params: { learning_rate: 0.1, batch_size: 256 }, steps: { tensorflow: 200, wasm: 100, cpu: 50 } },
  { id: 'MLP 784-128-10 b256 (dropout 0)', model: 'mlp', params: { learning_rate: 0.1, batch_size: 256, num_hiddens: 128, dropout: 0 }, steps: { tensorflow: 100, wasm: 40, cpu: 10 } },
  { id: 'MLP 784-128-10 b256 (dropout 0.2)', model: 'mlp', params: { learning_rate: 0.1, batch_size: 256, num_hiddens: 128, dropout: 0.2 }, steps: { tensorflow: 100, wasm: 40, cpu: 10 } },
  // wasm has no conv gradient kernels; the pure-JS cpu backend needs seconds per step.
  { id: 'LeNet b64', model: 'lenet', params: { learning_rate: 0.5, batch_size: 64 }, steps: { tensorflow: 30, wasm: 0, cpu: 0 } },
];

const fashion = await import(path.join(root, 'dist/src/data/fashion-mnist.js'));

/** Where the real dataset is (the engine's own lookup), or undefined: then synthetic data. */
function fashionDir() {
  return fashion.locateFashionMnist();
}

/** The engine's own loader (checked, decoded once); synthetic images when the dataset is absent. */
function loadFashion() {
  const found = fashionDir();
  if (found) {
    const d = fashion.loadFashionMnistDir(found.dir, found.source);
    return {
      source: 'Fashion-MNIST',
      data: {
        trainImages: new Uint8Array(d.trainImages),
        trainLabels: new Uint8Array(d.trainLabels),
        testImages: new Uint8Array(d.testImages),
        testLabels: new Uint8Array(d.testLabels),
      },
    };
  }
  const n = 8192;
  const img = new Uint8Array(n * 784).map((_, i) => (i * 2654435761) >>> 24);
  const lab = new Uint8Array(n).map((_, i) => i % 10);
  return { source: 'synthetic', data: { trainImages: img, trainLabels: lab, testImages: img, testLabels: lab } };
}

async function child(backend, runs) {
  let tf;
  if (backend === 'tensorflow') tf = require('@tensorflow/tfjs-node');
  else {
    tf = require('@tensorflow/tfjs');
    if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
  await tf.ready();
  const { getModel } = await import(path.join(root, 'dist/src/training/models/index.js'));
  const { data } = loadFashion();
  const out = [];
  for (const c of CASES) {
    const steps = c.steps[backend];
    const B = c.params.batch_size;
    const row = { id: c.id };
    if (!steps) {
      row.note = backend === 'wasm' ? 'no conv gradient kernels' : 'not run (too slow)';
      out.push(row);
      continue;
    }
    for (const step of ['lean', 'autograd']) {
      const trainer = getModel(c.model).createTrainer(tf, data, c.params, { seed: 7, trainSubset: B * steps, step });
      trainer.trainEpoch(0); // warm-up: kernels, shapes, caches
      const per = [];
      for (let r = 0; r < runs; r++) {
        const t0 = process.hrtime.bigint();
        trainer.trainEpoch(r + 1);
        per.push(Number(process.hrtime.bigint() - t0) / 1e3 / steps);
      }
      trainer.dispose();
      per.sort((a, b) => a - b);
      row[step] = per[Math.floor(per.length / 2)];
      row[`${step}Min`] = per[0];
    }
    out.push(row);
    process.stderr.write(`${backend} ${c.id}: lean ${row.lean.toFixed(1)} (min ${row.leanMin.toFixed(1)}) us, autograd ${row.autograd.toFixed(1)} (min ${row.autogradMin.toFixed(1)}) us\n`);
  }
  const version = tf.version?.['tfjs-core'] ?? tf.version_core;
  process.stdout.write(JSON.stringify({ backend, version, rows: out }) + '\n');
}

function fmt(us) {
  if (us === undefined) return '-';
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} us`;
}

async function main() {
  const runs = Number(opt('runs', '5'));
  if (opt('child')) return child(opt('child'), runs);
  const backends = opt('backends', 'tensorflow,wasm,cpu').split(',');
  const results = [];
  // The machine is shared and noisy: --rounds N measures each backend N times in fresh
  // processes and keeps, per case and step kind, the round with the lowest median.
  const rounds = Number(opt('rounds', '1'));
  for (const b of backends) {
    let merged;
    for (let k = 0; k < rounds; k++) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', b, '--runs', String(runs)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        env: {
          ...process.env,
          TF_CPP_MIN_LOG_LEVEL: '2',
          ...(opt('threads') ? { TF_NUM_INTRAOP_THREADS: opt('threads'), TF_NUM_INTEROP_THREADS: opt('threads') } : {}),
        },
      });
      const line = r.stdout.trim().split('\n').pop();
      if (r.status !== 0 || !line) {
        process.stderr.write(`backend ${b}: not measured (exit ${r.status})\n`);
        break;
      }
      const res = JSON.parse(line);
      if (!merged) merged = res;
      else {
        for (const row of res.rows) {
          const m = merged.rows.find((x) => x.id === row.id);
          for (const kind of ['lean', 'autograd']) {
            if (m && row[kind] !== undefined && row[kind] < m[kind]) {
              m[kind] = row[kind];
              m[`${kind}Min`] = row[`${kind}Min`];
            }
          }
        }
      }
    }
    if (merged) results.push(merged);
  }
  const cpu = cpuModel();
  const source = fashionDir() ? 'Fashion-MNIST' : 'synthetic';
  let tfjsVersion = 'unknown';
  try {
    tfjsVersion = JSON.parse(readFileSync(require.resolve('@tensorflow/tfjs/package.json'), 'utf8')).version;
  } catch {}
  const lines = [];
  lines.push('## Training step', '');
  const load = os.loadavg()[0].toFixed(1);
  const threads = opt('threads') ? `libtensorflow threads: ${opt('threads')}` : 'libtensorflow threads: default (all cores)';
  lines.push(`Machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}, tfjs ${tfjsVersion}; ${threads}; data: ${source}; 1-min load average at the end: ${load}; ${new Date().toISOString().slice(0, 10)}.`);
  lines.push((rounds > 1 ? `Best of ${rounds} rounds (fresh process each) of: ` : '') + 'per step, median (minimum) of ' + runs + ' timed epochs (after one warm-up epoch) of minibatch SGD through `Trainer.trainEpoch`: batch gather on the backend, forward, backward, update. `lean` = hand-derived gradients (default), `autograd` = tf.variableGrads + the same SGD update.');
  lines.push('Command: `npx tsc -p tsconfig.json && node native-bench/steps.mjs ' + args.filter((a) => a !== '--no-write' && a !== '--torch').join(' ') + '`', '');
  lines.push('| case | ' + results.map((r) => `${r.backend} lean | ${r.backend} autograd`).join(' | ') + ' |');
  lines.push('|---|' + results.map(() => '---|---|').join(''));
  for (const c of CASES) {
    const cells = results.map((r) => {
      const row = r.rows.find((x) => x.id === c.id);
      if (row?.note) return `${row.note} | -`;
      return `${fmt(row?.lean)} (${fmt(row?.leanMin)}) | ${fmt(row?.autograd)} (${fmt(row?.autogradMin)})`;
    });
    lines.push(`| ${c.id} | ${cells.join(' | ')} |`);
  }
  const torch = path.join(here, 'torch_steps.json');
  if (args.includes('--torch')) {
    // Debian's python3-torch lives in the system interpreter, not in a pyenv one.
    const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const r = spawnSync(py, [path.join(here, 'torch_steps.py'), '--threads', '1'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) process.stderr.write('torch_steps.py failed; keeping any earlier torch_steps.json\n');
  }
  if (existsSync(torch)) {
    const t = JSON.parse(readFileSync(torch, 'utf8'));
    lines.push('', `PyTorch ${t.version} (Debian python3-torch, CPU, ${t.threads} thread, \`native-bench/torch_steps.py\`, same models and batch sizes, autograd + torch.optim.SGD; median): ` + t.rows.map((r) => `${r.id} ${fmt(r.us)}`).join('; ') + '. This Debian build is far slower at large matMuls than the PyTorch figures in /work/shared/NATIVE.md (MLP b256 about 3.3 ms, softmax b256 534 us), which remain the targets.');
  }
  const section = lines.join('\n') + '\n';
  process.stdout.write('\n' + section);
  if (args.includes('--no-write')) return;
  writeSection('Training step', lines.slice(2).join('\n'));
}

await main();
