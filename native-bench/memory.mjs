// Issue 8, parts 2 and 3: peak memory of a whole study by number of workers, and how long
// a trial dispatched to a fresh thread waits before it trains.
//
//   node native-bench/memory.mjs [--workers 1,2,4,8] [--trials 5] [--epochs 8] [--rounds 3]
//
// Memory: the book study (`hpo run --model softmax --trials 5 --epochs 8`, 60k images) with
// a fresh database per run, peak RSS of the whole process from `/usr/bin/time -v`
// ("Maximum resident set size"; without /usr/bin/time, VmHWM polled from /proc).
// Thread start: in a fresh process, as `hpo run` does it: the addon in the main thread,
// the shared dataset allocated, the pool started (its threads warm up while a thread
// decodes the dataset), then one trial per thread dispatched as soon as the data is in.
// Each trial trains one step (a 16-image subset at batch 16) and reports its validation
// error, so dispatch -> first report bounds dispatch -> first step from above; the same
// trials on the now warm threads give the part that is not thread start.
// Writes the "Memory and thread start" section of RESULTS.md. Needs `npm run build`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendLine, CLI, hpoInfo, machineLine, median, writeSection } from './results.mjs';

const DIST = new URL('../dist/src/', import.meta.url);

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}

// ---------------------------------------------------------------- thread start (child mode)

async function threadStartChild(workers) {
  const { prepareBackend } = await import(new URL('training/backend.js', DIST).href);
  const { ensureFashionMnist } = await import(new URL('data/fashion-mnist.js', DIST).href);
  const { allocateSharedFashion } = await import(new URL('training/shared-dataset.js', DIST).href);
  const { TrialPool } = await import(new URL('worker/pool.js', DIST).href);
  const t0 = performance.now();
  const backend = await prepareBackend('auto');
  const found = await ensureFashionMnist({ download: false });
  const pending = allocateSharedFashion(['flat1'], backend.name);
  const pool = new TrialPool({ workers, init: { dataset: pending.dataset, backend: backend.name, warmModel: 'softmax', intraOpThreads: 1, interOpThreads: 1 } });
  const poolAt = performance.now();
  await pending.fill(found.dir);
  const dataAt = performance.now();
  const wave = async (first) =>
    Promise.all(
      Array.from({ length: workers }, async (_, i) => {
        const dispatched = performance.now();
        let reported = NaN;
        await pool.run(
          { trialNumber: first + i, seed: first + i, maxEpochs: 1, params: { learning_rate: 0.1 }, objective: 'fashion-mnist', model: 'softmax', settings: { trainSubset: 16 } },
          async () => {
            reported = performance.now();
            return false;
          },
        );
        return reported - dispatched;
      }),
    );
  const fresh = await wave(1);
  const warm = await wave(1 + workers);
  await pool.destroy();
  process.stdout.write(
    JSON.stringify({ backend: backend.name, zeroCopy: pending.dataset.zeroCopy, setupMs: poolAt - t0, decodeMs: dataAt - poolAt, fresh, warm }) + '\n',
  );
}

// ---------------------------------------------------------------- parent


/** Peak RSS (kB) and wall time of one `hpo run`. */
async function peakRss(args) {
  if (existsSync('/usr/bin/time')) {
    const r = spawnSync('/usr/bin/time', ['-v', process.execPath, CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`hpo ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
    const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(r.stderr)?.[1] ?? '?';
    const secs = wall.split(':').reduce((acc, x) => acc * 60 + Number(x), 0);
    return { kb, secs };
  }
  // No /usr/bin/time: poll the high-water mark (a lower bound if the peak is at the very end).
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  let kb = 0;
  const timer = setInterval(() => {
    try {
      kb = Math.max(kb, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0));
    } catch {
      // exited
    }
  }, 50);
  const code = await new Promise((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`hpo ${args.join(' ')} failed (exit ${code})`);
  return { kb, secs: (performance.now() - t0) / 1000 };
}

async function main() {
  const workerCounts = String(arg('workers', '1,2,4,8')).split(',').map(Number);
  const trials = Number(arg('trials', '5'));
  const epochs = Number(arg('epochs', '8'));
  const rounds = Number(arg('rounds', '3'));
  const info = hpoInfo();
  const load0 = loadavg()[0];

  const mem = [];
  for (const w of workerCounts) {
    const dir = mkdtempSync(join(tmpdir(), 'hpo-mem-'));
    try {
      const args = ['run', '--study', 'm', '--storage', join(dir, 'm.db'), '--model', 'softmax', '--trials', String(trials), '--epochs', String(epochs), '--workers', String(w), '--seed', '1'];
      const r = await peakRss(args);
      mem.push({ w, ...r });
      process.stdout.write(`workers ${w}: peak RSS ${r.kb} kB (${(r.kb / 1024).toFixed(0)} MiB), ${r.secs.toFixed(1)} s\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const starts = [];
  for (let i = 0; i < rounds; i++) {
    const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child-thread-start', '2'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const r = JSON.parse(out.trim().split('\n').pop());
    starts.push(r);
    process.stdout.write(`thread start round ${i + 1}: fresh ${r.fresh.map((x) => x.toFixed(0)).join(', ')} ms; warm ${r.warm.map((x) => x.toFixed(0)).join(', ')} ms; set-up ${r.setupMs.toFixed(0)} ms, decode ${r.decodeMs.toFixed(0)} ms\n`);
  }

  const rows = mem.map((m, i) => {
    const perWorker = i === 0 ? '' : `${((m.kb - mem[i - 1].kb) / 1024 / (m.w - mem[i - 1].w)).toFixed(0)} MiB`;
    return `| ${m.w} | ${m.kb} | ${(m.kb / 1024).toFixed(0)} MiB | ${perWorker} | ${m.secs.toFixed(1)} |`;
  });
  const fresh = starts.flatMap((s) => s.fresh);
  const warm = starts.flatMap((s) => s.warm);
  const body = `
${machineLine([backendLine(info), `1-min load average at start ${load0.toFixed(1)}`])}

Peak RSS of the whole process for the book study: \`/usr/bin/time -v node dist/src/cli/main.js run --study m --storage <fresh>.db --model softmax --trials ${trials} --epochs ${epochs} --workers W --seed 1\` ("Maximum resident set size"), one run per row.
Dataset tensors: ${!starts[0]?.zeroCopy ? 'converted per thread (this backend copies)' : info.datasetTensors === 'shared-bytes' ? 'one copy per process, read in place by every thread: the training images as bytes (47 MB, gathered per batch by tfjs-hpo\'s HpoGather op), the test images as float32 (31 MB)' : 'one shared float32 copy per process, read in place by every thread (zero-copy)'}.
Command: \`npm run build && node native-bench/memory.mjs --workers ${workerCounts.join(',')} --trials ${trials} --epochs ${epochs} --rounds ${rounds}\`

| workers | peak RSS (kB) | peak RSS | per added worker | wall time (s) |
|---:|---:|---:|---:|---:|
${rows.join('\n')}

Targets: 2 workers at most 500000 kB; at most 80 MB per added worker. Before (issue 8): 1 worker 0.81 GB, 2 workers 1.30 GB, 4 workers 2.34 GB.

Thread start, ${rounds} fresh processes x 2 threads (softmax, one training step on 16 images, then validation on the 10k test images and its report): from a trial's dispatch to its first report, median ${median(fresh).toFixed(0)} ms (max ${Math.max(...fresh).toFixed(0)} ms) on a fresh thread, ${median(warm).toFixed(0)} ms (max ${Math.max(...warm).toFixed(0)} ms) on a warm one. The first report comes after the first step, so dispatch -> first step is at most these figures (target 0.3 s). Set-up before the pool started (addon, dataset buffers) ${median(starts.map((s) => s.setupMs)).toFixed(0)} ms; decoding while the threads warmed up ${median(starts.map((s) => s.decodeMs)).toFixed(0)} ms.
`;
  writeSection('Memory and thread start', body);
}

if (process.argv[2] === '--child-thread-start') await threadStartChild(Number(process.argv[3] ?? 2));
else await main();
