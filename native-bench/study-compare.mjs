#!/usr/bin/env node
// Whole study, tfjs-hpo against what a user would pick instead: Optuna (random search) +
// PyTorch from Debian, one OS process per worker and one thread each, all sharing one
// Optuna storage (native-bench/peer/optuna_study.py). Both sides get the same model,
// space, trials, epochs, batch size, workers and data (60k training images, error on the
// 10k test images after every epoch). Runs alternate between the sides (which goes first
// alternates too), each with fresh storage. Writes the "## Whole study vs Optuna + PyTorch"
// section of RESULTS.md. Run after `npx tsc -p tsconfig.json`:
//   node native-bench/study-compare.mjs [--jobs book,mlp] [--rounds 3] [--seeds 1,2,3] [--workers 2]
//        [--ours-args "--pack 8"] [--peer-storage journal|sqlite] [--python /usr/bin/python3]
//        [--same-configs] [--quick] [--no-write]
// Every round runs every seed on both sides. Wall time: median over all runs of a side.
// Peak memory: ours = max RSS of the one `hpo run` process; the peer's = the sum of its worker
// processes' max RSS. Search quality: per seed the median best error over rounds, then
// the median over seeds. --same-configs: the peer trains exactly our configurations (the
// ones `hpo run --seed S` samples, enqueued with study.enqueue_trial) instead of drawing its
// own with its RandomSampler: wall time and best error then differ by the training alone.
// --quick: 2 trials x 1 epoch on 5000 images, one round, nothing written.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { backendLine, CLI, hpoInfo, machineLine, median, writeSection } from './results.mjs';
import { pythonPath, requirePython, singleThreadEnv, warnUnlessOpenBlas } from './peer.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  if (i + 1 >= args.length) fail(`--${name} needs a value`);
  return args[i + 1];
};
function fail(msg) {
  process.stderr.write(`study-compare: ${msg}\n`);
  process.exit(2);
}
const posInt = (name, dflt) => {
  const v = Number(opt(name, dflt));
  if (!Number.isSafeInteger(v) || v < 1) fail(`--${name} must be a positive integer`);
  return v;
};

/** The jobs of issue 8: the d2l book's softmax study and an MLP study. */
const JOBS = {
  book: { model: 'softmax', trials: 5, epochs: 8, batch: 16, space: 'spaces/book.json', what: 'softmax regression, 5 trials x 8 epochs, batch 16, lr logU(0.01, 1)' },
  mlp: { model: 'mlp', trials: 20, epochs: 4, batch: 256, space: 'spaces/mlp.json', what: 'MLP 784-H-10, 20 trials x 4 epochs, batch 256, lr logU(1e-3, 1), H int[32, 512], dropout U[0, 0.5]' },
};

const quick = args.includes('--quick');
const jobNames = opt('jobs', 'book,mlp').split(',');
for (const j of jobNames) if (!(j in JOBS)) fail(`unknown job ${j} (known: ${Object.keys(JOBS).join(', ')})`);
const rounds = quick ? 1 : posInt('rounds', '3');
const seeds = opt('seeds', quick ? '1' : '1,2,3').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) fail(`--seeds: ${s} is not an integer`);
  return n;
});
const workers = posInt('workers', '2');
const oursArgs = opt('ours-args', '').split(/\s+/).filter(Boolean);
const peerStorage = opt('peer-storage', 'journal');
if (!['journal', 'sqlite'].includes(peerStorage)) fail('--peer-storage must be journal or sqlite');
const trainSubset = quick ? 5000 : undefined;
const sameConfigs = args.includes('--same-configs');
const py = pythonPath(opt('python'));
requirePython(py, ['torch', 'optuna', 'numpy']);
const versions = JSON.parse(
  execFileSync(py, ['-c', 'import json, optuna, torch; print(json.dumps({"optuna": optuna.__version__, "torch": torch.__version__}))'], { encoding: 'utf8', env: singleThreadEnv() }),
);
const blas = lastJson(execFileSync(py, [path.join(here, 'torch_steps.py'), '--blas'], { encoding: 'utf8', env: singleThreadEnv() })).blas;
warnUnlessOpenBlas(blas); // before the long runs, not after

const { getModel } = await import(path.join(here, '../dist/src/training/models/index.js')).catch(() => fail('dist/ not built: run npx tsc -p tsconfig.json first'));
const dir = mkdtempSync(path.join(tmpdir(), 'hpo-study-compare-'));

/** Last JSON-object line of a process's stdout. */
function lastJson(stdout) {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  return line ? JSON.parse(line) : undefined;
}

function settings(job) {
  const j = JOBS[job];
  return quick ? { ...j, trials: 2, epochs: 1 } : j;
}

function runPeer(job, seed, tag) {
  const j = settings(job);
  const configs = sameConfigs ? configsFor(job, seed) : undefined;
  const store = peerStorage === 'journal' ? path.join(dir, `peer-${tag}`) : `sqlite:///${path.join(dir, `peer-${tag}.db`)}`;
  const argv = [path.join(here, 'peer/optuna_study.py'), 'launch', '--storage', store, '--study', job, '--model', j.model, '--space', path.join(here, j.space)];
  argv.push('--trials', String(j.trials), '--epochs', String(j.epochs), '--batch', String(j.batch), '--workers', String(workers), '--seed', String(seed));
  if (trainSubset) argv.push('--train-subset', String(trainSubset));
  if (configs) argv.push('--configs', configs.file);
  const r = spawnSync(py, argv, { encoding: 'utf8', env: singleThreadEnv(), stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const out = lastJson(r.stdout ?? '');
  if (r.status !== 0 || !out) throw new Error(`peer run failed (exit ${r.status}):\n${(r.stderr ?? '').trim().split('\n').slice(-15).join('\n')}`);
  if (out.completed !== j.trials) throw new Error(`peer completed ${out.completed} of ${j.trials} trials`);
  return { wall: out.wall_s, rssKb: out.worker_maxrss_kb.reduce((a, b) => a + b, 0), rssEach: out.worker_maxrss_kb, best: out.best, trials: out.all };
}

function oursCommand(job, seed, db) {
  const j = settings(job);
  const a = ['run', '--study', job, '--storage', db, '--model', j.model, '--space', path.join(here, j.space), '--trials', String(j.trials), '--epochs', String(j.epochs), '--workers', String(workers), '--seed', String(seed)];
  if (trainSubset) a.push('--train-subset', String(trainSubset));
  return [...a, ...oursArgs];
}

function runOurs(job, seed, tag) {
  const j = settings(job);
  const db = path.join(dir, `ours-${tag}.db`);
  const r = spawnSync(py, [path.join(here, 'peer/measure.py'), '--', process.execPath, CLI, ...oursCommand(job, seed, db)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  const out = lastJson(r.stdout ?? '');
  if (r.status !== 0 || !out) throw new Error(`hpo run failed (exit ${out?.code ?? r.status}):\n${(r.stderr ?? '').trim().split('\n').slice(-15).join('\n')}`);
  const conn = new Database(db, { readonly: true });
  const row = conn.prepare("SELECT count(*) AS n, min(value) AS best FROM trials WHERE state = 'completed'").get();
  conn.close();
  if (row.n !== j.trials) throw new Error(`hpo run completed ${row.n} of ${j.trials} trials`);
  if (sameConfigs && JSON.stringify(storedConfigs(db)) !== JSON.stringify(configsFor(job, seed).list)) {
    throw new Error('this run sampled other configurations than the probe run with the same seed: --same-configs cannot pair them');
  }
  return { wall: out.wall_s, rssKb: out.maxrss_kb, best: row.best };
}

/** Our trials' params in trial order. */
function storedConfigs(db) {
  const conn = new Database(db, { readonly: true });
  const rows = conn.prepare('SELECT params FROM trials ORDER BY number').all();
  conn.close();
  return rows.map((r) => JSON.parse(r.params));
}

const probed = new Map();
/**
 * Our configurations for (job, seed), from an untimed probe run on 256 images for 1 epoch
 * (sampling depends on the seed and trial number only; runOurs checks that every timed run
 * drew the same list), written to a file for optuna_study.py --configs.
 */
function configsFor(job, seed) {
  const key = `${job}-${seed}`;
  if (!probed.has(key)) {
    const j = settings(job);
    const db = path.join(dir, `probe-${key}.db`);
    const a = oursCommand(job, seed, db).map((x, i, all) => (all[i - 1] === '--epochs' ? '1' : all[i - 1] === '--train-subset' ? '256' : x));
    if (!a.includes('--train-subset')) a.push('--train-subset', '256');
    const r = spawnSync(process.execPath, [CLI, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`probe run for our configurations failed: ${r.stderr.trim().split('\n').pop()}`);
    const list = storedConfigs(db);
    if (list.length !== j.trials) throw new Error(`probe run stored ${list.length} of ${j.trials} trials`);
    const file = path.join(dir, `configs-${key}.json`);
    writeFileSync(file, JSON.stringify(list));
    probed.set(key, { list, file });
  }
  return probed.get(key);
}

const mb = (kb) => `${Math.round(kb / 1024)} MB`;

const results = {};
const loadStart = loadavg()[0];
let pair = 0;
for (const job of jobNames) {
  const j = settings(job);
  const model = getModel(j.model);
  // Our CLI takes the batch size from the model's default when the space has none: make
  // sure that is the batch the peer gets.
  if (model.defaults.batchSize !== j.batch) fail(`${job}: our ${j.model} trains with batch ${model.defaults.batchSize}, the job says ${j.batch}`);
  results[job] = { ours: [], peer: [] };
  for (let r = 0; r < rounds; r++) {
    for (const seed of seeds) {
      const tag = `${job}-r${r}-s${seed}`;
      const order = pair++ % 2 === 0 ? ['peer', 'ours'] : ['ours', 'peer'];
      for (const side of order) {
        let res;
        try {
          res = side === 'peer' ? runPeer(job, seed, tag) : runOurs(job, seed, tag);
        } catch (e) {
          rmSync(dir, { recursive: true, force: true });
          fail(`${job} round ${r + 1} seed ${seed}, ${side === 'peer' ? 'Optuna + PyTorch' : 'tfjs-hpo'}: ${e.message}`);
        }
        results[job][side].push({ seed, ...res });
        process.stderr.write(`${job} round ${r + 1} seed ${seed} ${side === 'peer' ? 'Optuna+PyTorch' : 'tfjs-hpo'}: ${res.wall.toFixed(1)} s, peak RSS ${mb(res.rssKb)}${res.rssEach ? ` (${res.rssEach.map(mb).join(' + ')})` : ''}, best error ${res.best.toFixed(4)}\n`);
      }
    }
  }
}
rmSync(dir, { recursive: true, force: true });

/** Per seed the median best error over rounds, then the median over seeds. */
function bestError(runs) {
  return median(seeds.map((s) => median(runs.filter((x) => x.seed === s).map((x) => x.best))));
}

const info = hpoInfo();
const lines = [
  machineLine([backendLine(info), `PyTorch ${versions.torch}`, `Optuna ${versions.optuna}`, `BLAS: ${blas.name} (${blas.paths.at(-1) ?? 'none mapped'}, ${blas.threads} thread)`, `Python ${py}`]),
  '',
  // Arguments with spaces (--ours-args "--pack 1") quoted, so the line runs as written.
  'Command: `npx tsc -p tsconfig.json && node native-bench/study-compare.mjs ' + args.filter((a) => a !== '--no-write').map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ') + '`',
  '',
  `Peer: \`native-bench/peer/optuna_study.py\`: Optuna RandomSampler (seed per worker process), ${workers} worker processes with one thread each (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)) sharing one fresh ${peerStorage === 'journal' ? 'JournalFileStorage' : 'SQLite RDBStorage'}, each calling study.optimize until the shared budget is reached (MaxTrialsCallback; a trial numbered past the budget stops its worker untrained). Each worker loads Fashion-MNIST from the IDX files into float tensors in [0, 1] and trains by index_select minibatches of a per-epoch permutation, torch.optim.SGD, mean cross-entropy, PyTorch default init (as ours), test error reported per epoch. Its wall time runs from the study's creation to the last worker's exit.`,
  `Ours: \`hpo run --study JOB --storage <fresh SQLite file> --model M --space native-bench/${'spaces/<job>.json'} --trials N --epochs E --workers ${workers} --seed S${oursArgs.length ? ' ' + oursArgs.join(' ') : ''}\`, the whole process. Both sides: ${workers} workers, ${trainSubset ?? 60000} training images, error on the 10k test images after every epoch; peak RSS from wait4 (ours: the one process; the peer: the sum over its worker processes).`,
  sameConfigs
    ? 'Configurations: `--same-configs`: the peer trains exactly the configurations `hpo run --seed S` samples (enqueued in order with study.enqueue_trial), so wall time and error differ by the training alone.'
    : 'Configurations: each side samples its own (our seeded random search; the peer\'s RandomSampler seeded per worker process), so the two try different configurations for the same seed.',
  `1-min load average: ${loadStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end` +
    (Math.max(loadStart, loadavg()[0]) > availableParallelism() ? ' (above the core count: other work shared the CPU, so the wall times are inflated; the alternation keeps the ratios comparable).' : '.'),
  `${rounds} round(s) x seeds ${seeds.join(', ')}; sides alternate, each run with fresh storage. Wall time and RSS: median over all runs of a side (min-max); best error: per seed the median over rounds, then the median over seeds.`,
  '',
  '| job | tfjs-hpo wall | Optuna + PyTorch wall | ratio | tfjs-hpo peak RSS | peer peak RSS (sum of workers) | ratio | best error tfjs-hpo | best error peer | difference |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const job of jobNames) {
  const { ours, peer } = results[job];
  const w = (xs) => `${median(xs.map((x) => x.wall)).toFixed(1)} s (${Math.min(...xs.map((x) => x.wall)).toFixed(1)}-${Math.max(...xs.map((x) => x.wall)).toFixed(1)})`;
  const rss = (xs) => median(xs.map((x) => x.rssKb));
  const eo = bestError(ours);
  const ep = bestError(peer);
  const j = settings(job);
  lines.push(
    `| ${job}: ${quick ? `${j.model}, ${j.trials} x ${j.epochs} epochs (quick)` : j.what} | ${w(ours)} | ${w(peer)} | ${(median(ours.map((x) => x.wall)) / median(peer.map((x) => x.wall))).toFixed(2)} | ${mb(rss(ours))} | ${mb(rss(peer))} | ${(rss(ours) / rss(peer)).toFixed(2)} | ${eo.toFixed(4)} | ${ep.toFixed(4)} | ${(eo - ep >= 0 ? '+' : '') + (eo - ep).toFixed(4)} |`,
  );
}
lines.push('', 'Every run (wall s / peak RSS / best error):', '');
for (const job of jobNames) {
  for (const side of ['ours', 'peer']) {
    lines.push(`- ${job}, ${side === 'ours' ? 'tfjs-hpo' : 'Optuna + PyTorch'}: ` + results[job][side].map((x) => `seed ${x.seed}: ${x.wall.toFixed(1)} / ${mb(x.rssKb)} / ${x.best.toFixed(4)}`).join('; '));
  }
}
const section = lines.join('\n') + '\n';
process.stdout.write('\n' + section);
if (!quick && !args.includes('--no-write')) writeSection(`Whole study vs Optuna + PyTorch${sameConfigs ? ' (same configurations)' : ''}${oursArgs.length ? ` (ours with ${oursArgs.join(' ')})` : ''}`, section);
