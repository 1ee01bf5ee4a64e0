// Trials per minute with 1 worker and with W workers (same study, same seed), and the wall
// time of `npm start`'s default study. Writes the "Trial throughput" section of RESULTS.md.
//   node native-bench/throughput.mjs [--trials 16] [--epochs 2] [--skip-start]
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backendLine, hpo, machineLine, writeSection } from './results.mjs';

const argv = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const TRIALS = flag('trials', 16);
const EPOCHS = flag('epochs', 2);
const W = availableParallelism();
const dir = mkdtempSync(join(tmpdir(), 'hpo-bench-'));

/**
 * Run one study. From the database: the whole span (first start to last end) and the steady
 * state, from the moment the first `workers` trials (each thread's warm-up: loading the
 * backend, building the dataset tensors) have finished to the last end.
 */
function study(workers) {
  const db = join(dir, `w${workers}.db`);
  // One trial per task (--pack 1): packed trials all finish together, which leaves no
  // steady state to measure; packing has its own benchmarks (pack-k.mjs, pack-studies.mjs).
  const args = ['run', '--study', 'tp', '--storage', db, '--model', 'softmax', '--trials', String(TRIALS), '--epochs', String(EPOCHS), '--workers', String(workers), '--seed', '3', '--pack', '1'];
  const { ms } = hpo(args);
  const conn = new Database(db, { readonly: true });
  const rows = conn.prepare("SELECT started_at AS a, finished_at AS b FROM trials WHERE state = 'completed' ORDER BY finished_at").all();
  conn.close();
  if (rows.length !== TRIALS) throw new Error(`expected ${TRIALS} completed trials, got ${rows.length}`);
  const t = (x) => Date.parse(x);
  const spanMs = t(rows.at(-1).b) - Math.min(...rows.map((r) => t(r.a)));
  const steadyMs = t(rows.at(-1).b) - t(rows[workers - 1].b);
  return { workers, wallMs: ms, spanMs, perMin: (TRIALS / spanMs) * 60000, steadyPerMin: ((TRIALS - workers) / steadyMs) * 60000 };
}

const rows = [];
for (const w of [...new Set([1, W])]) {
  const r = study(w);
  rows.push(r);
  process.stdout.write(
    `${w} worker(s): ${r.steadyPerMin.toFixed(1)} trials/min steady, ${r.perMin.toFixed(1)} overall (span ${(r.spanMs / 1000).toFixed(1)} s, process ${(r.wallMs / 1000).toFixed(1)} s)\n`,
  );
}
const one = rows[0];
const x = (a, b) => `${(a / b).toFixed(2)}x`;
const lines = [
  machineLine([backendLine()]),
  '',
  `Command: \`node native-bench/throughput.mjs --trials ${TRIALS} --epochs ${EPOCHS}\`: softmax regression, ${TRIALS} trials x ${EPOCHS} epochs on all 60000 training images (batch 16), validation on the 10k test images after each epoch, seed 3, \`--pack 1\` (one trial per task).`,
  "Steady: the trials that finished after every thread's first trial (its warm-up: loading tfjs-node in the thread, building the dataset tensors), over the time from then to the last end. Overall: all trials, from the first start to the last end. Process: the whole `hpo run`, start-up included. Times from the database.",
  '',
  '| workers | trials/min steady | speed-up | trials/min overall | speed-up | trials span (s) | whole process (s) |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.workers} | ${r.steadyPerMin.toFixed(1)} | ${x(r.steadyPerMin, one.steadyPerMin)} | ${r.perMin.toFixed(1)} | ${x(r.perMin, one.perMin)} | ${(r.spanMs / 1000).toFixed(1)} | ${(r.wallMs / 1000).toFixed(1)} |`,
  ),
];

if (!argv.includes('--skip-start')) {
  // npm start's study, into a temporary file instead of ./hpo.db.
  const db = join(dir, 'start.db');
  const { ms } = hpo(['run', '--study', 'book-softmax', '--storage', db, '--model', 'softmax', '--trials', '5', '--epochs', '8']);
  const conn = new Database(db, { readonly: true });
  const best = conn.prepare("SELECT min(value) AS v FROM trials WHERE state = 'completed'").get();
  conn.close();
  process.stdout.write(`npm start's study: ${(ms / 1000).toFixed(1)} s, best validation error ${best.v.toFixed(4)}\n`);
  lines.push(
    '',
    `\`npm start\` (softmax regression, 5 trials x 8 epochs on all 60000 images, batch 16, ${W} workers, random seed): **${(ms / 1000).toFixed(1)} s** wall time for the whole command, best validation error ${best.v.toFixed(4)}.`,
  );
}
writeSection('Trial throughput', lines.join('\n'));
