// `npm run bench`: the native-path benchmarks, each writing its section of RESULTS.md.
//   npm run bench                 training steps per backend (PyTorch alongside), whole studies
//                                 against Optuna + PyTorch, trial throughput, npm start's wall time,
//                                 trial packing (throughput against K, whole studies packed or not)
//   npm run bench -- --all        also storage overhead, ASHA vs FIFO, memory and thread start,
//                                 the samplers' search quality (tens of minutes)
//   npm run bench -- steps compare memory    any subset, by name
// steps and compare need Debian's python3-torch, python3-optuna and libopenblas0-pthread.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Each benchmark with the arguments `npm run bench` gives it: libtensorflow gets one thread,
// as each worker of `hpo run` does.
const SCRIPTS = {
  steps: ['steps.mjs', '--threads', '1', '--rounds', '2'],
  gemm: ['gemm.mjs'],
  // book and MLP studies, 3 seeds each, alternating with the peer (about 5 minutes).
  compare: ['study-compare.mjs', '--rounds', '1', '--seeds', '1,2,3'],
  throughput: ['throughput.mjs'],
  // Trial packing: one thread's trials/s against the pack size K (1, 2, 4, 8, 16) for softmax
  // b16, MLP b256 and LeNet b64, 3 alternating rounds (about 5 minutes).
  'pack-k': ['pack-k.mjs', '--ks', '1,2,4,8,16', '--rounds', '3'],
  // Softmax studies with --pack 1 and --pack 8 alternating, 2 rounds: the acceptance run
  // (16 trials x 2 epochs, 20k images) and 32 trials x 2 epochs on 60k (about 10 minutes).
  'pack-studies': ['pack-studies.mjs', '--pack', '8', '--rounds', '2'],
  storage: ['storage.mjs'],
  memory: ['memory.mjs', '--workers', '1,2,4,8', '--rounds', '3'],
  search: ['search-quality.mjs'],
  asha: ['asha-vs-fifo.mjs', '--model', 'mlp', '--trials', '32', '--max-epochs', '10', '--min-epochs', '1', '--eta', '2', '--seed', '1'],
};
const args = process.argv.slice(2);
const names = args.includes('--all') ? Object.keys(SCRIPTS) : args.filter((a) => a in SCRIPTS);
const unknown = args.filter((a) => a !== '--all' && !(a in SCRIPTS));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')} (known: ${Object.keys(SCRIPTS).join(', ')})\n`);
  process.exit(2);
}
for (const name of names.length ? names : ['steps', 'compare', 'throughput', 'pack-k', 'pack-studies']) {
  process.stdout.write(`\n=== ${name} ===\n`);
  const [script, ...rest] = SCRIPTS[name];
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...rest], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`benchmark ${name} failed (exit ${r.status})\n`);
    process.exit(1);
  }
}
process.stdout.write('\nnative-bench/RESULTS.md updated\n');
