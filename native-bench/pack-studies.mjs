#!/usr/bin/env node
// Whole studies with and without trial packing, as a user runs them (`hpo run`), each run
// with fresh storage, `--pack 1` and `--pack K` alternating. Two cases:
//   acceptance: softmax, 16 trials x 2 epochs, 20k training images, 2 workers, seed 4
//               (every trial's value compared between the two runs)
//   32 trials:  softmax, 32 trials x 2 epochs, all 60k images, 2 workers, seed 4 (trials/s)
// Run after `npx tsc -p tsconfig.json`:
//   node native-bench/pack-studies.mjs [--pack 8] [--rounds 2] [--cases acceptance,32] [--no-write]
// Writes one "## Trial packing: whole studies (case)" section per case of native-bench/RESULTS.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendLine, hpo, machineLine, opt, writeSection } from './results.mjs';

const args = process.argv.slice(2);
const K = Number(opt('pack', '8'));
const rounds = Number(opt('rounds', '2'));
const only = opt('cases', 'acceptance,32').split(',');
const CASES = [
  { id: 'acceptance', title: 'softmax, 16 trials x 2 epochs, --train-subset 20000, 2 workers, seed 4', args: ['--model', 'softmax', '--trials', '16', '--epochs', '2', '--train-subset', '20000', '--workers', '2', '--seed', '4'], trials: 16 },
  { id: '32', title: 'softmax, 32 trials x 2 epochs, 60k images, 2 workers, seed 4', args: ['--model', 'softmax', '--trials', '32', '--epochs', '2', '--workers', '2', '--seed', '4'], trials: 32 },
].filter((c) => only.includes(c.id));

/** One run in fresh storage: wall ms and every trial's value and learning rate by number. */
function run(c, pack) {
  const dir = mkdtempSync(join(tmpdir(), 'hpo-pack-bench-'));
  const db = join(dir, 'p.db');
  try {
    const r = hpo(['run', '--study', 'p', '--storage', db, ...c.args, '--pack', String(pack)], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
    const q = hpo(['sql', '--storage', db, '--json', 'SELECT number, value, params FROM trials ORDER BY number']);
    const rows = JSON.parse(q.stdout);
    return { ms: r.ms, values: new Map(rows.map((t) => [t.number, { value: t.value, lr: JSON.parse(t.params).learning_rate }])) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const header = [machineLine([backendLine()]), '', `\`node native-bench/pack-studies.mjs --pack ${K} --rounds ${rounds}\`: \`hpo run\` with \`--pack 1\` and \`--pack ${K}\` alternating, fresh storage each run; wall time of the whole command (process start, backend, dataset, threads included).`, ''];
for (const c of CASES) {
  const out = [...header];
  const t1 = [];
  const tk = [];
  let v1;
  let vk;
  for (let r = 0; r < rounds; r++) {
    const a = run(c, 1);
    const b = run(c, K);
    t1.push(a.ms);
    tk.push(b.ms);
    v1 = a.values;
    vk = b.values;
    process.stderr.write(`${c.id} round ${r + 1}: pack 1 ${(a.ms / 1000).toFixed(1)} s, pack ${K} ${(b.ms / 1000).toFixed(1)} s\n`);
  }
  // The best run of each: the machine is shared, and noise only ever adds time.
  const m1 = Math.min(...t1);
  const mk = Math.min(...tk);
  out.push(`### ${c.title}`, '', '| | wall (best run) | all runs | trials/s (best run) |', '|---|---|---|---|');
  out.push(`| --pack 1 | ${(m1 / 1000).toFixed(1)} s | ${t1.map((t) => (t / 1000).toFixed(1)).join(', ')} | ${((c.trials * 1000) / m1).toFixed(2)} |`);
  out.push(`| --pack ${K} | ${(mk / 1000).toFixed(1)} s | ${tk.map((t) => (t / 1000).toFixed(1)).join(', ')} | ${((c.trials * 1000) / mk).toFixed(2)} |`);
  out.push('', `Ratio: --pack ${K} takes ${(mk / m1).toFixed(2)}x the wall time of --pack 1 (${(m1 / mk).toFixed(2)}x the trials/s).`, '');
  const diffs = [...v1.keys()].map((n) => ({ n, lr: v1.get(n).lr, a: v1.get(n).value, b: vk.get(n)?.value }));
  const same = diffs.filter((d) => d.b !== undefined && Math.abs(d.a - d.b) <= 1e-4 + 1e-9);
  out.push(`Per-trial values equal within 1e-4: ${same.length} of ${diffs.length}.`);
  const differ = diffs.filter((d) => !same.includes(d));
  if (differ.length) {
    out.push('Those that differ (value with --pack 1 / --pack K, learning rate):', '');
    for (const d of differ) out.push(`- trial ${d.n}: ${d.a} / ${d.b}, lr ${d.lr.toFixed(3)}`);
  }
  out.push('');
  const body = out.join('\n');
  process.stdout.write(body + '\n');
  // One section per case, so that a case can be re-run alone.
  if (!args.includes('--no-write')) writeSection(`Trial packing: whole studies (${c.id === '32' ? '32 trials' : c.id})`, body);
}
