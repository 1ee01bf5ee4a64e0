// TPE against random search on the MLP job: 20 trials x 4 epochs, 2 workers, the MLP's
// default space, best validation error per study, median over 3 seeds.
//   node native-bench/mlp-sampler.mjs [--train-subset N] [--seeds 3]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStudy } from '../dist/src/index.js';
import { machineLine, writeSection } from './results.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const subset = opt('train-subset', undefined);
const seeds = opt('seeds', 3);
const dir = mkdtempSync(join(tmpdir(), 'hpo-mlp-sampler-'));
const rows = [];
for (const sampler of ['random', 'tpe']) {
  const bests = [];
  let secs = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const study = await openStudy({ storage: join(dir, 'mlp.db'), name: `${sampler}-${seed}`, model: 'mlp', epochs: 4, sampler, seed, ...(subset ? { trainSubset: subset } : {}) });
    const t0 = performance.now();
    const r = await study.optimize({ trials: 20, workers: 2 });
    secs += (performance.now() - t0) / 1000;
    bests.push(r.best.value);
    await study.close();
    process.stdout.write(`${sampler} seed ${seed}: best ${r.best.value.toFixed(4)}\n`);
  }
  const s = [...bests].sort((a, b) => a - b);
  rows.push({ sampler, bests, median: s[Math.floor(s.length / 2)], secs });
}
rmSync(dir, { recursive: true, force: true });
const lines = [
  machineLine(),
  '',
  `Command: \`node native-bench/mlp-sampler.mjs${subset ? ` --train-subset ${subset}` : ''}\`: model mlp, its default space, 20 trials x 4 epochs, 2 workers, fifo, seeds 1-${seeds}${subset ? `, first ${subset} training images` : ''}.`,
  '',
  '| sampler | best validation error per seed | median | study time (s, total) |',
  '|---|---|---:|---:|',
  ...rows.map((r) => `| ${r.sampler} | ${r.bests.map((v) => v.toFixed(4)).join(', ')} | ${r.median.toFixed(4)} | ${r.secs.toFixed(0)} |`),
];
writeSection('TPE vs random on the MLP job', lines.join('\n'));
process.stdout.write(lines.join('\n') + '\n');
