#!/usr/bin/env node
// Trial packing: training throughput against the pack size K, one thread, libtensorflow
// with one intra-op and one inter-op thread (as every pool worker runs). K = 1 is the
// single-trial trainer (`--pack 1`); K >= 2 the packed trainer (src/training/packed).
// Each K trains K trials for E epochs of S steps and the figure is trial-epochs... given
// as "trials/s" for a trial of `epochs` epochs of the case's subset (training only; the
// per-epoch test-set evaluation is left out, it is the same work packed or not).
// Run after `npx tsc -p tsconfig.json`:
//   node native-bench/pack-k.mjs [--ks 1,2,4,8,16] [--rounds 3] [--cases softmax,mlp,lenet] [--no-write]
// Rounds alternate the K values (1,2,4,...,1,2,4,...) and keep each K's best round, as the
// machine is shared. Writes the "## Trial packing" section of native-bench/RESULTS.md.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLine, opt, writeSection } from './results.mjs';

process.env.TF_CPP_MIN_LOG_LEVEL = '2';
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const args = process.argv.slice(2);
const ks = opt('ks', '1,2,4,8,16').split(',').map(Number);
const rounds = Number(opt('rounds', '3'));
const only = opt('cases', 'softmax,mlp,lenet').split(',');

// Trials of these shapes; `steps` per timed epoch (the subset is steps x batch rows).
const CASES = [
  { id: 'softmax b16', model: 'softmax', batch: 16, steps: 400, params: (i) => ({ learning_rate: 0.01 * 1.3 ** i, batch_size: 16 }) },
  { id: 'MLP b256 (H 96-128, dropout 0-0.4)', model: 'mlp', batch: 256, steps: 20, params: (i) => ({ learning_rate: 0.05 + 0.01 * i, batch_size: 256, num_hiddens: 128 - ((i * 5) % 32), dropout: (i % 5) * 0.1 }) },
  { id: 'LeNet b64', model: 'lenet', batch: 64, steps: 8, params: (i) => ({ learning_rate: 0.1 + 0.05 * i, batch_size: 64 }) },
].filter((c) => only.some((o) => c.model === o));

// The engine's own loader (tfjs-node plus tfjs-hpo's kernels when built), one intra-op and
// one inter-op thread as in every pool worker.
const { tf } = await (await import(path.join(root, 'dist/src/training/backend.js'))).loadBackend('tensorflow', { intraOpThreads: 1, interOpThreads: 1 });
const { getModel } = await import(path.join(root, 'dist/src/training/models/index.js'));
const { packedModel, PackedTrainer } = await import(path.join(root, 'dist/src/training/packed/index.js'));
const fashion = await import(path.join(root, 'dist/src/data/fashion-mnist.js'));
const { fashionDataOf, loadSharedFashion } = await import(path.join(root, 'dist/src/training/shared-dataset.js'));
const found = fashion.locateFashionMnist();
if (!found) throw new Error('Fashion-MNIST not found (apt-get install dataset-fashion-mnist)');
// The dataset as `hpo run` gives it to its threads: the model's layout once per process in
// shared memory (the training images as bytes when tfjs-hpo's kernels are loaded).
const dataFor = new Map();
async function datasetFor(model) {
  const layout = getModel(model).layout;
  if (!dataFor.has(layout)) dataFor.set(layout, fashionDataOf(await loadSharedFashion(found.dir, [layout], 'tensorflow')));
  return dataFor.get(layout);
}

/** Seconds per epoch (of `c.steps` steps) for K trials: the best of 2 timed epochs after a warm-up epoch. */
function epochSeconds(c, K, data, packedOne) {
  const subset = c.steps * c.batch;
  const params = Array.from({ length: K }, (_, i) => c.params(i));
  let epoch;
  let dispose;
  if (K === 1 && !packedOne) {
    const t = getModel(c.model).createTrainer(tf, data, params[0], { seed: 11, trainSubset: subset, step: 'lean' });
    let e = 0;
    epoch = () => t.trainEpoch(e++);
    dispose = () => t.dispose();
  } else {
    const t = new PackedTrainer(tf, data, packedModel(c.model), c.batch, subset);
    t.regroup([], params.map((p, i) => ({ id: i + 1, seed: 11 + i, params: p })));
    epoch = () => t.trainEpoch();
    dispose = () => t.dispose();
  }
  epoch();
  let best = Infinity;
  for (let r = 0; r < 2; r++) {
    const t0 = process.hrtime.bigint();
    epoch();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  dispose();
  return best;
}

const lines = [];
// Rows: K = 1 alone (the single-trial trainer, `--pack 1`), the packed trainer holding one
// trial (what a pack of 1 costs: packing's own overhead, or its fused step), then K >= 2.
const rowsOf = (ks) => [...(ks.includes(1) ? ['1', '1p'] : []), ...ks.filter((k) => k !== 1).map(String)];
for (const c of CASES) {
  const data = await datasetFor(c.model);
  const best = new Map();
  for (let r = 0; r < rounds; r++) {
    for (const row of rowsOf(ks)) {
      const K = parseInt(row, 10);
      const s = epochSeconds(c, K, data, row === '1p');
      best.set(row, Math.min(best.get(row) ?? Infinity, s));
      process.stderr.write(`${c.id} K=${row}: ${((s / c.steps) * 1e3).toFixed(3)} ms/step, ${(K * c.steps / s).toFixed(0)} trial-steps/s\n`);
    }
  }
  const base = c.steps / best.get(rowsOf(ks)[0]);
  lines.push(`### ${c.id}`, '', '| K | ms per packed step | trial-steps/s | vs K=1 alone |', '|---|---|---|---|');
  for (const row of rowsOf(ks)) {
    const K = parseInt(row, 10);
    const s = best.get(row);
    const rate = (K * c.steps) / s;
    lines.push(`| ${row === '1' ? '1 (alone)' : row === '1p' ? '1 (packed trainer)' : row} | ${((s / c.steps) * 1e3).toFixed(3)} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)}x |`);
  }
  lines.push('');
}
const body = [
  machineLine([`tfjs-node on libtensorflow, 1 intra-op / 1 inter-op thread`, process.env.TFJS_HPO_KERNELS === '0' ? "libtensorflow's MatMul" : 'tfjs-hpo GEMM kernels when built']),
  '',
  'Training throughput of one worker thread against the pack size K (`node native-bench/pack-k.mjs`).',
  'K = 1 alone is the single-trial trainer (`--pack 1`); "1 (packed trainer)" is the packed trainer holding one trial; K >= 2 trains K trials in one set of batched ops',
  '(softmax: one HpoSoftmaxSgdEpoch op per epoch for the whole pack). The data is held as `hpo run` holds it (the layout in shared memory, training images as bytes).',
  'trial-steps/s = K x steps per second, so at a fixed number of epochs trials/s scales the same way;',
  `each K's best of ${rounds} alternating rounds. Training only (the per-epoch test-set evaluation is the same work either way).`,
  '',
  ...lines,
].join('\n');
process.stdout.write(body + '\n');
if (!args.includes('--no-write')) writeSection('Trial packing (trials per second against K)', body);
