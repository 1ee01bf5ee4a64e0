// The same study with the fifo scheduler and with ASHA: best validation error over
// wall-clock time, and the time to reach a target error. Writes the "ASHA vs FIFO" section
// of RESULTS.md.
//   node native-bench/asha-vs-fifo.mjs [--model mlp] [--trials 24] [--max-epochs 8] [--min-epochs 1]
//        [--eta 2] [--workers W] [--target 0.15] [--train-subset K] [--seed 1]
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { backendLine, hpo, machineLine, opt, writeSection } from './results.mjs';

const model = opt('model', 'mlp');
const trials = Number(opt('trials', '24'));
const maxEpochs = Number(opt('max-epochs', '8'));
const minEpochs = Number(opt('min-epochs', '1'));
const eta = Number(opt('eta', '2'));
const workers = Number(opt('workers', String(availableParallelism())));
const target = Number(opt('target', '0.15'));
const subset = opt('train-subset', undefined);
const seed = opt('seed', '1');
const dir = mkdtempSync(join(tmpdir(), 'hpo-asha-'));

function run(scheduler) {
  const db = join(dir, `${scheduler}.db`);
  const args = ['run', '--study', scheduler, '--storage', db, '--model', model, '--scheduler', scheduler, '--trials', String(trials), '--workers', String(workers), '--seed', seed];
  if (scheduler === 'fifo') args.push('--epochs', String(maxEpochs));
  else args.push('--max-epochs', String(maxEpochs), '--min-epochs', String(minEpochs), '--eta', String(eta));
  if (subset) args.push('--train-subset', subset);
  process.stdout.write(`running ${scheduler}...\n`);
  const { ms } = hpo(args);
  const conn = new Database(db, { readonly: true });
  const t0 = Date.parse(conn.prepare('SELECT min(started_at) AS t FROM trials').get().t);
  // Every epoch report is a point on the anytime curve: the best validation error seen so far.
  const reports = conn.prepare('SELECT r.created_at AS at, r.value FROM reports r ORDER BY r.created_at').all();
  const counts = conn.prepare('SELECT state, count(*) AS n, sum(epochs) AS epochs FROM trials GROUP BY state').all();
  const end = Date.parse(conn.prepare('SELECT max(finished_at) AS t FROM trials').get().t);
  conn.close();
  let best = Infinity;
  const curve = [];
  for (const r of reports) {
    if (r.value < best) {
      best = r.value;
      curve.push({ s: (Date.parse(r.at) - t0) / 1000, best });
    }
  }
  const hit = curve.find((p) => p.best <= target);
  const epochs = counts.reduce((a, c) => a + c.epochs, 0);
  return { scheduler, ms, spanS: (end - t0) / 1000, curve, best, toTarget: hit ? hit.s : null, counts, epochs };
}

const fifo = run('fifo');
const asha = run('asha');
const bestAt = (r, s) => {
  let b = null;
  for (const p of r.curve) if (p.s <= s) b = p.best;
  return b;
};
const marks = [15, 30, 60, 120, 240, 480, 960].filter((s) => s < Math.max(fifo.spanS, asha.spanS) * 1.2);
const fmt = (x) => (x === null ? '-' : x.toFixed(4));
const fmt1 = (x) => (x === null ? 'never' : `${x.toFixed(1)} s`);
const ratio = fifo.toTarget && asha.toTarget ? fifo.toTarget / asha.toTarget : null;
// A second, study-relative target: within 0.005 of the best error FIFO found at all.
const near = Math.min(fifo.best, asha.best) + 0.005;
const timeTo = (r, v) => r.curve.find((p) => p.best <= v)?.s ?? null;
const nearF = timeTo(fifo, near);
const nearA = timeTo(asha, near);
const lines = [
  machineLine([backendLine()]),
  '',
  `Command: \`node native-bench/asha-vs-fifo.mjs --model ${model} --trials ${trials} --max-epochs ${maxEpochs} --min-epochs ${minEpochs} --eta ${eta} --workers ${workers}${subset ? ` --train-subset ${subset}` : ''} --seed ${seed} --target ${target}\``,
  `(${model} on Fashion-MNIST${subset ? `, first ${subset} training images` : ', all 60000 training images'}, validation on the 10k test images; same seed, so both schedulers see the same ${trials} configs in the same order).`,
  '',
  '| scheduler | trials (state: count) | epochs trained | study time (s) | best error | time to error <= ' + target + ' (s) |',
  '|---|---|---:|---:|---:|---:|',
  ...[fifo, asha].map(
    (r) => `| ${r.scheduler} | ${r.counts.map((c) => `${c.state}: ${c.n}`).join(', ')} | ${r.epochs} | ${r.spanS.toFixed(1)} | ${r.best.toFixed(4)} | ${r.toTarget === null ? 'not reached' : r.toTarget.toFixed(1)} |`,
  ),
  '',
  'Best validation error so far, by wall-clock time since the first trial started:',
  '',
  `| seconds | ${marks.join(' | ')} | end |`,
  `|---|${marks.map(() => '---:').join('|')}|---:|`,
  ...[fifo, asha].map((r) => `| ${r.scheduler} | ${marks.map((s) => fmt(bestAt(r, s))).join(' | ')} | ${r.best.toFixed(4)} |`),
  '',
  ratio === null
    ? `Target: ASHA reaches ${target} in at most a third of FIFO's time: not decidable here (one of them never reached ${target}).`
    : `ASHA reached ${target} ${ratio.toFixed(2)}x faster than FIFO (target: >= 3x): ${ratio >= 3 ? 'met' : 'not met'}.`,
  `Within 0.005 of the best error either found (<= ${near.toFixed(4)}): fifo after ${fmt1(nearF)}, asha after ${fmt1(nearA)}. ` +
    `The whole study took ${(fifo.spanS / asha.spanS).toFixed(2)}x less time with asha (${asha.epochs} of ${fifo.epochs} epochs trained).`,
];
process.stdout.write(lines.join('\n') + '\n');
writeSection(model === 'mlp' ? 'ASHA vs FIFO' : `ASHA vs FIFO (${model})`, lines.join('\n'));
