// `npm run bench`: the native-path benchmarks, each writing its section of RESULTS.md.
//   npm run bench                 training steps per backend, trial throughput, npm start's wall time
//   npm run bench -- --all        also storage overhead and ASHA vs FIFO (tens of minutes)
//   npm run bench -- steps storage asha throughput    any subset, by name
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPTS = {
  steps: 'steps.mjs',
  throughput: 'throughput.mjs',
  storage: 'storage.mjs',
  asha: 'asha-vs-fifo.mjs',
};
const args = process.argv.slice(2);
const names = args.includes('--all') ? Object.keys(SCRIPTS) : args.filter((a) => a in SCRIPTS);
const unknown = args.filter((a) => a !== '--all' && !(a in SCRIPTS));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')} (known: ${Object.keys(SCRIPTS).join(', ')})\n`);
  process.exit(2);
}
for (const name of names.length ? names : ['steps', 'throughput']) {
  process.stdout.write(`\n=== ${name} ===\n`);
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(SCRIPTS[name], import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`benchmark ${name} failed (exit ${r.status})\n`);
    process.exit(1);
  }
}
process.stdout.write('\nnative-bench/RESULTS.md updated\n');
