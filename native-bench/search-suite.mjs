// Median simple regret over many seeds (default 100) on Branin, Hartmann-6 and 8 more test
// functions (search-problems.mjs, `suite`), for our TPE samplers beside Optuna's
// (optuna-suite.json, written by `/usr/bin/python3 native-bench/optuna_search.py`).
// 20 seeds (search-quality.mjs) leave a median uncertain by tens of percent; this is the
// comparison the TPE defaults were chosen on.
// Samplers are called directly with the history one worker's runner hands them (trials
// 1..k-1, all completed), which is what `hpo run --workers 1` does, without the storage.
//   node native-bench/search-suite.mjs [--seeds 100] [--samplers tpe,tpe-multivariate] [--no-write]
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createSampler } from '../dist/src/samplers/registry.js';
import { parseSpace } from '../dist/src/space/distribution.js';
import { machineLine, median, opt, writeSection } from './results.mjs';
import { learningCurveOptimum, suite } from './search-problems.mjs';

const args = process.argv.slice(2);
const SEEDS = Number(opt('seeds', 100));
const SAMPLERS = opt('samplers', 'tpe,tpe-multivariate').split(',');
const WRITE = !args.includes('--no-write');
const optunaFile = new URL('./optuna-suite.json', import.meta.url);
const optuna = existsSync(optunaFile) ? JSON.parse(readFileSync(optunaFile, 'utf8')) : undefined;


const results = {};
for (const sampler of SAMPLERS) {
  results[sampler] = {};
  for (const [key, pb] of Object.entries(suite)) {
    const optimum = pb.optimum ?? learningCurveOptimum();
    const space = parseSpace(pb.space);
    const r50 = [];
    const r100 = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const s = createSampler(sampler);
      const trials = [];
      let best = Infinity;
      for (let k = 1; k <= 100; k++) {
        const params = s.sample(space, seed, k, { trials });
        const v = pb.f(params);
        best = Math.min(best, v);
        trials.push({ number: k, state: 'completed', params, value: v, reports: [] });
        if (k === 50) r50.push(best - optimum);
      }
      r100.push(best - optimum);
    }
    results[sampler][key] = [median(r50), median(r100)];
    const o = optuna?.[sampler]?.[key];
    process.stdout.write(`${pb.name.padEnd(48)} ${sampler.padEnd(17)} ${results[sampler][key].map((v) => v.toPrecision(3)).join(' / ')}${o ? `   Optuna ${o.map((v) => v.toPrecision(3)).join(' / ')}` : ''}\n`);
  }
}

if (WRITE) {
  const f = (v) => (v === undefined ? '' : v < 0.001 ? v.toExponential(1) : v.toPrecision(3));
  const ratio = (a, b) => (a === undefined || b === undefined ? '' : `${(b / Math.max(a, 1e-12)).toFixed(1)}x`);
  const lines = [
    machineLine([`load average ${loadavg().map((x) => x.toFixed(2)).join(' / ')} (1 / 5 / 15 min; regrets do not depend on it)`]),
    '',
    `Command: \`node native-bench/search-suite.mjs --seeds ${SEEDS}\` (ours, seeds 1-${SEEDS}); Optuna: \`/usr/bin/python3 native-bench/optuna_search.py --seeds ${optuna?.seeds ?? '?'}\``,
    `(Optuna ${optuna?.optuna ?? '?'}, seeds 0-${(optuna?.seeds ?? 1) - 1}, in memory; native-bench/optuna-suite.json). Median simple regret at 50 / 100 trials;`,
    "\"gain\" is Optuna's median over ours (above 1: ours lower). Samplers called with one worker's history, without storage.",
    '',
    '| problem | dims | TPE | Optuna TPE | gain 50 / 100 | TPE multivariate | Optuna TPE multivariate | gain 50 / 100 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [key, pb] of Object.entries(suite)) {
    const cell = (s) => {
      const ours = results[s]?.[key];
      const theirs = optuna?.[s]?.[key];
      return [ours ? `${f(ours[0])} / ${f(ours[1])}` : '', theirs ? `${f(theirs[0])} / ${f(theirs[1])}` : '', ours && theirs ? `${ratio(ours[0], theirs[0])} / ${ratio(ours[1], theirs[1])}` : ''];
    };
    lines.push(`| ${pb.name} | ${Object.keys(pb.space).length} | ${cell('tpe').join(' | ')} | ${cell('tpe-multivariate').join(' | ')} |`);
  }
  writeSection(`Search quality over ${SEEDS} seeds (TPE vs Optuna)`, lines.join('\n'));
  process.stdout.write('native-bench/RESULTS.md updated\n');
}
