#!/usr/bin/env node
// Microseconds per training step of the built-in models, lean vs autograd, on every
// TensorFlow.js backend that loads, and PyTorch's step for the same case measured in the
// same run: on the tensorflow backend each timed epoch of ours alternates with one of
// PyTorch's (native-bench/torch_steps.py, one thread, on the BLAS torch loads: it says which).
// Run after `npx tsc -p tsconfig.json`:
//   node native-bench/steps.mjs [--backends tensorflow,wasm,cpu] [--runs 5] [--rounds 1] [--threads N]
//                               [--no-torch] [--python /usr/bin/python3] [--quick] [--no-write]
// --threads sets TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS for libtensorflow (torch gets 1).
// --quick: 2 runs, a tenth of the steps, tensorflow only, nothing written (smoke test).
// Each backend is measured in its own child process (tfjs-node and the wasm backend both
// patch the global engine). Writes the "## Training step" section of native-bench/RESULTS.md.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuModel, opt, writeSection } from './results.mjs';
import { lineChild, pythonPath, requirePython, singleThreadEnv, warnUnlessOpenBlas } from './peer.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(root, 'package.json'));
const args = process.argv.slice(2);

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

/** Synthetic images and labels, for a machine without the dataset. */
function syntheticData() {
  const n = 8192;
  const img = new Uint8Array(n * 784).map((_, i) => (i * 2654435761) >>> 24);
  const lab = new Uint8Array(n).map((_, i) => i % 10);
  return { trainImages: img, trainLabels: lab, testImages: img, testLabels: lab };
}

const quick = args.includes('--quick');

/** Timed steps per epoch for a case on a backend (a tenth with --quick). */
function stepsFor(c, backend) {
  const s = c.steps[backend] ?? 0;
  return quick ? Math.max(1, Math.round(s / 10)) : s;
}

/** The same case as torch_steps.py reads it. */
function torchCase(c, steps) {
  const p = c.params;
  return { model: c.model, batch: p.batch_size, steps, lr: p.learning_rate, ...(p.num_hiddens ? { hidden: p.num_hiddens } : {}), ...(p.dropout !== undefined ? { dropout: p.dropout } : {}) };
}

/**
 * Child: answers {prep: {id, step, steps}} (build the trainer on the first batch*steps images,
 * one warm-up epoch) and {time: true} (one timed epoch: microseconds per step), a JSON line each.
 */
async function child(backend) {
  let tf;
  // The engine's own loader: tfjs-node plus tfjs-hpo's kernels (HpoMatMul) when built, as
  // trials run (TFJS_HPO_KERNELS=0 measures libtensorflow's MatMul instead).
  if (backend === 'tensorflow') tf = (await (await import(path.join(root, 'dist/src/training/backend.js'))).loadBackend('tensorflow')).tf;
  else {
    tf = require('@tensorflow/tfjs');
    if (backend === 'wasm') require('@tensorflow/tfjs-backend-wasm');
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not initialise`);
  await tf.ready();
  const { getModel } = await import(path.join(root, 'dist/src/training/models/index.js'));
  // The data as `hpo run` holds it (the model's layout in shared memory; on tensorflow with
  // our kernels the training images as bytes, gathered and converted by HpoGather), so the
  // step measured is the step trials run. (A plain float copy of the images, gathered by TF's
  // GatherV2 into glibc-allocated buffers, made some rounds of softmax b256 fault in fresh
  // pages every step: 2-2.8 ms instead of 0.3.)
  const found = fashionDir();
  const { fashionDataOf, loadSharedFashion } = await import(path.join(root, 'dist/src/training/shared-dataset.js'));
  const byLayout = new Map();
  const synthetic = found ? null : syntheticData();
  const dataFor = async (model) => {
    if (synthetic) return synthetic;
    const layout = getModel(model).layout;
    if (!byLayout.has(layout)) byLayout.set(layout, fashionDataOf(await loadSharedFashion(found.dir, [layout], backend)));
    return byLayout.get(layout);
  };
  const version = tf.version?.['tfjs-core'] ?? tf.version_core;
  const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
  say({ backend, version });
  let trainer;
  let steps = 0;
  let epoch = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    try {
      const msg = JSON.parse(line);
      if (msg.prep) {
        trainer?.dispose();
        const c = CASES.find((x) => x.id === msg.prep.id);
        steps = msg.prep.steps;
        trainer = getModel(c.model).createTrainer(tf, await dataFor(c.model), c.params, { seed: 7, trainSubset: c.params.batch_size * steps, step: msg.prep.step });
        trainer.trainEpoch(0); // warm-up: kernels, shapes, caches
        epoch = 0;
        say({ ok: true });
      } else if (msg.time) {
        const t0 = process.hrtime.bigint();
        trainer.trainEpoch(++epoch);
        say({ us: Number(process.hrtime.bigint() - t0) / 1e3 / steps });
      } else say({ error: `unknown message ${line}` });
    } catch (e) {
      say({ error: e.message });
    }
  }
  trainer?.dispose();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * One round on one backend, in fresh processes: per case, `runs` timed epochs of our lean
 * step, each followed by one of PyTorch's (when `py` is given and the backend is
 * tensorflow), then `runs` of the autograd step.
 */
async function round(backend, runs, py) {
  const ours = lineChild(`${backend} child`, process.execPath, [fileURLToPath(import.meta.url), '--child', backend], {
    ...process.env,
    TF_CPP_MIN_LOG_LEVEL: '2',
    ...(opt('threads') ? { TF_NUM_INTRAOP_THREADS: opt('threads'), TF_NUM_INTEROP_THREADS: opt('threads') } : {}),
  });
  const hello = await ours.read();
  const torch = py ? lineChild('torch_steps.py', py, [path.join(here, 'torch_steps.py'), '--serve', '--threads', '1'], singleThreadEnv()) : undefined;
  const torchHello = torch ? await torch.read() : undefined;
  if (torchHello) warnUnlessOpenBlas(torchHello.blas);
  const rows = [];
  try {
    for (const c of CASES) {
      const steps = stepsFor(c, backend);
      const row = { id: c.id };
      rows.push(row);
      if (!steps) {
        row.note = backend === 'wasm' ? 'no conv gradient kernels' : 'not run (too slow)';
        continue;
      }
      for (const step of ['lean', 'autograd']) {
        const paired = step === 'lean' && torch;
        await ours.ask({ prep: { id: c.id, step, steps } });
        if (paired) await torch.ask({ prep: torchCase(c, steps) });
        const per = { [step]: [], torch: [] };
        for (let r = 0; r < runs; r++) {
          per[step].push((await ours.ask({ time: true })).us);
          if (paired) per.torch.push((await torch.ask({ time: true })).us);
        }
        for (const [k, xs] of Object.entries(per)) {
          if (!xs.length) continue;
          row[k] = median(xs);
          row[`${k}Min`] = Math.min(...xs);
        }
      }
      process.stderr.write(
        `${backend} ${c.id}: lean ${row.lean.toFixed(1)} (min ${row.leanMin.toFixed(1)}) us, autograd ${row.autograd.toFixed(1)} (min ${row.autogradMin.toFixed(1)}) us` +
          (row.torch !== undefined ? `, PyTorch ${row.torch.toFixed(1)} (min ${row.torchMin.toFixed(1)}) us, ratio ${(row.lean / row.torch).toFixed(2)}` : '') +
          '\n',
      );
    }
  } finally {
    await Promise.all([ours.close(), torch?.close()]);
  }
  return { backend, version: hello.version, torch: torchHello, rows };
}

function fmt(us) {
  if (us === undefined) return '-';
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} us`;
}

async function main() {
  const runs = Number(opt('runs', quick ? '2' : '5'));
  if (opt('child')) return child(opt('child'));
  const backends = opt('backends', quick ? 'tensorflow' : 'tensorflow,wasm,cpu').split(',');
  const withTorch = !args.includes('--no-torch') && backends.includes('tensorflow');
  const py = withTorch ? pythonPath(opt('python')) : undefined;
  if (py) requirePython(py, ['torch', 'numpy'], 'or pass --no-torch');
  const results = [];
  // The machine is shared and noisy: --rounds N measures each backend N times in fresh
  // processes and keeps, per case and step kind, the round with the lowest median.
  const rounds = Number(opt('rounds', '1'));
  for (const b of backends) {
    let merged;
    for (let k = 0; k < rounds; k++) {
      let res;
      try {
        res = await round(b, runs, b === 'tensorflow' ? py : undefined);
      } catch (e) {
        process.stderr.write(`backend ${b}: not measured (${e.message})\n`);
        break;
      }
      if (!merged) merged = res;
      else {
        for (const row of res.rows) {
          const m = merged.rows.find((x) => x.id === row.id);
          for (const kind of ['lean', 'autograd', 'torch']) {
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
  if (withTorch && !results.some((r) => r.torch)) {
    process.stderr.write('the tensorflow backend was not measured, so neither was PyTorch\n');
    process.exit(1);
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
  const threads = `libtensorflow threads: ${opt('threads') ?? '1 (the engine default)'}`;
  const tr = results.find((r) => r.torch)?.torch;
  const torchLine = tr ? `; PyTorch ${tr.torch} (${py}), ${tr.threads} thread, BLAS: ${tr.blas.name} (${tr.blas.paths.at(-1) ?? 'no library mapped'})` : '';
  const kernels = process.env.TFJS_HPO_KERNELS === '0' ? "; matMul: libtensorflow's own (TFJS_HPO_KERNELS=0)" : '; matMul: tfjs-hpo GEMM when built (hpo info)';
  lines.push(`Machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}, tfjs ${tfjsVersion}; ${threads}${kernels}${torchLine}; data: ${source}; 1-min load average at the end: ${load}; ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`);
  lines.push((rounds > 1 ? `Best of ${rounds} rounds (fresh processes each) of: ` : '') + 'per step, median (minimum) of ' + runs + ' timed epochs (after one warm-up epoch) of minibatch SGD through `Trainer.trainEpoch`: batch gather on the backend (ours from the images as `hpo run` holds them: bytes in shared memory, converted by the gather, on tensorflow with our kernels), forward, backward, update. `lean` = hand-derived gradients (default), `autograd` = tf.variableGrads + the same SGD update.');
  if (tr) {
    lines.push(
      'PyTorch: `native-bench/torch_steps.py`, the same model, init style, batch size and images (preloaded float tensors, batches by index_select of a permutation), autograd + torch.optim.SGD. Each timed epoch of our lean step is followed by one of PyTorch\'s (same run, alternating); ratio = tensorflow lean / PyTorch (below 1: we are faster).',
    );
  }
  lines.push('Command: `npx tsc -p tsconfig.json && node native-bench/steps.mjs ' + args.filter((a) => a !== '--no-write').join(' ') + '`', '');
  const cols = [];
  for (const r of results) {
    cols.push({ head: `${r.backend} lean`, cell: (row) => (row.note ? row.note : `${fmt(row.lean)} (${fmt(row.leanMin)})`) });
    if (r.torch) {
      cols.push({ head: 'PyTorch', cell: (row) => (row.torch === undefined ? '-' : `${fmt(row.torch)} (${fmt(row.torchMin)})`) });
      cols.push({ head: 'ratio', cell: (row) => (row.torch === undefined || row.lean === undefined ? '-' : `${(row.lean / row.torch).toFixed(2)}`) });
    }
    cols.push({ head: `${r.backend} autograd`, cell: (row) => (row.note ? '-' : `${fmt(row.autograd)} (${fmt(row.autogradMin)})`) });
    for (const c of cols.slice(-(r.torch ? 4 : 2))) c.res = r;
  }
  lines.push('| case | ' + cols.map((c) => c.head).join(' | ') + ' |');
  lines.push('|---|' + cols.map(() => '---|').join(''));
  for (const c of CASES) lines.push(`| ${c.id} | ${cols.map((col) => col.cell(col.res.rows.find((x) => x.id === c.id) ?? {})).join(' | ')} |`);
  const section = lines.join('\n') + '\n';
  process.stdout.write('\n' + section);
  if (args.includes('--no-write') || quick) return;
  writeSection('Training step', lines.slice(2).join('\n'));
}

await main();
