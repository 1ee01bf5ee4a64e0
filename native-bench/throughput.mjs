// Trials per minute with 1 worker and with W workers (same study, same seed), and the wall
// time of `npm start`'s default study. Writes the "Trial throughput" section of RESULTS.md.
//   node native-bench/throughput.mjs [--trials 8] [--skip-start]
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
const TRIALS = flag('trials', 8);
const W = availableParallelism();
const dir = mkdtempSync(join(tmpdir(), 'hpo-bench-'));

/** Run one study; the span from the first trial's start to the last one's end, from the DB. */
function study(workers) {
  const db = join(dir, `w${workers}.db`);
  const args = ['run', '--study', 'tp', '--storage', db, '--model', 'softmax', '--trials', String(TRIALS), '--epochs', '2', '--train-subset', '10000', '--workers', String(workers), '--seed', '3'];
  const { ms } = hpo(args);
  const conn = new Database(db, { readonly: true });
  const r = conn.prepare("SELECT min(started_at) AS a, max(finished_at) AS b, count(*) AS n FROM trials WHERE state = 'completed'").get();
  conn.close();
  if (r.n !== TRIALS) throw new Error(`expected ${TRIALS} completed trials, got ${r.n}`);
  const spanMs = Date.parse(r.b) - Date.parse(r.a);
  return { workers, wallMs: ms, spanMs, perMin: (TRIALS / spanMs) * 60000, perMinWall: (TRIALS / ms) * 60000 };
}

const rows = [];
for (const w of [...new Set([1, W])]) {
  const r = study(w);
  rows.push(r);
  process.stdout.write(`${w} worker(s): ${r.perMin.toFixed(1)} trials/min (trials span ${(r.spanMs / 1000).toFixed(1)} s, process ${(r.wallMs / 1000).toFixed(1)} s)\n`);
}
const one = rows[0];
const lines = [
  machineLine([backendLine()]),
  '',
  `Command: \`node native-bench/throughput.mjs --trials ${TRIALS}\`: softmax regression, ${TRIALS} trials x 2 epochs on the first 10000 training images (batch 16), validation on the 10k test images, seed 3.`,
  'Trials/min counts from the first trial\'s start to the last trial\'s end (from the database); "process" includes start-up (loading tfjs-node, decoding the dataset).',
  '',
  '| workers | trials/min | speed-up | trials span (s) | whole process (s) |',
  '|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.workers} | ${r.perMin.toFixed(1)} | ${(r.perMin / one.perMin).toFixed(2)}x | ${(r.spanMs / 1000).toFixed(1)} | ${(r.wallMs / 1000).toFixed(1)} |`),
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
    `\`npm start\` (softmax regression, 5 trials x 8 epochs on all 60000 images, batch 16, ${W} workers): **${(ms / 1000).toFixed(1)} s** wall time, best validation error ${best.v.toFixed(4)}.`,
  );
}
writeSection('Trial throughput', lines.join('\n'));
