import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { BackendError, UsageError } from '../../src/errors.js';
import { describeBackend, keepNativeResident, loadBackend, prepareBackend, type BackendName } from '../../src/training/backend.js';

// dist/test/training/backend.test.js -> repo root
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER = new URL('../../../test/fixtures/backend-worker.mjs', import.meta.url);
const BACKEND_JS = new URL('../../src/training/backend.js', import.meta.url).href;

interface WorkerReport {
  ok: boolean;
  name?: BackendName;
  libtensorflow?: string | null;
  warning?: string | null;
  product?: number[];
  firstLoss?: number;
  lastLoss?: number;
  tensorsBefore?: number;
  tensorsAfter?: number;
  errorName?: string | null;
  message?: string;
  exitCode?: number;
  hasLayers?: boolean;
  fullHasLayers?: boolean | null;
}

function runWorker(workerData: { requested: BackendName | 'auto'; steps?: number; lean?: boolean; thenFull?: boolean }): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData });
    let report: WorkerReport | undefined;
    w.once('message', (m: WorkerReport) => (report = m));
    w.once('error', reject);
    w.once('exit', (code) => (report ? resolve({ ...report, exitCode: code }) : reject(new Error(`worker exited ${code} without reporting`))));
  });
}

/** Runs an ES module snippet in a fresh Node process and returns its last stdout line as JSON. */
function inFreshProcess(code: string): unknown {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `child failed (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
}

describe('loadBackend', () => {
  it('auto picks tensorflow (libtensorflow) on this machine and keeps it resident', async () => {
    const b = await loadBackend('auto');
    assert.equal(b.name, 'tensorflow', `auto fell back: ${b.warning ?? ''}`);
    assert.equal(b.warning, undefined);
    assert.equal(b.tf.getBackend(), 'tensorflow');
    assert.match(b.versions.libtensorflow ?? '', /^\d+\.\d+\.\d+/);
    assert.equal(b.versions.tfjs, '4.22.0');
    assert.deepEqual(b.threads, { intraOp: 1, interOp: 1 });
    // The C environment was set before the addon loaded (main thread: real setenv).
    assert.equal(process.env['TF_NUM_INTRAOP_THREADS'], '1');
    assert.equal(process.env['TF_NUM_INTEROP_THREADS'], '1');
    const d = describeBackend(b);
    assert.equal(d.backend, 'tensorflow');
    assert.equal(d.nativeResident, true);
    assert.ok(d.nativeInstall === 'official' || d.nativeInstall === 'fallback-build', `install marker: ${d.nativeInstall}`);
    assert.equal(keepNativeResident(), true);
  });

  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    it(`forcing ${name} activates it and computes correctly`, async () => {
      const b = await loadBackend(name);
      assert.equal(b.name, name);
      assert.equal(b.tf.getBackend(), name);
      const out = b.tf.tidy(() => Array.from(b.tf.matMul(b.tf.tensor2d([[1, 2], [3, 4]]), b.tf.tensor2d([[5, 6], [7, 8]])).dataSync()));
      assert.deepEqual(out, [19, 22, 43, 50]);
      if (name === 'tensorflow') assert.ok(b.versions.libtensorflow);
      else assert.equal(b.versions.libtensorflow, undefined);
      if (name === 'wasm') assert.equal(b.versions.tfjsBackendWasm, '4.22.0');
    });
  }

  it('rejects unknown names and bad thread counts with one-line usage errors', async () => {
    await assert.rejects(loadBackend('gpu' as BackendName), (e: unknown) => e instanceof UsageError && /unknown backend "gpu"/.test(e.message));
    await assert.rejects(loadBackend('cpu', { intraOpThreads: 0 }), (e: unknown) => e instanceof UsageError && !e.message.includes('\n'));
    await assert.rejects(loadBackend('cpu', { interOpThreads: 1.5 }), UsageError);
  });

  it('warns when asked for pool sizes after libtensorflow already sized them', async () => {
    const b = await loadBackend('tensorflow', { intraOpThreads: 2 });
    assert.deepEqual(b.threads, { intraOp: 1, interOp: 1 });
    assert.match(b.warning ?? '', /pools stay at intra-op 1/);
  });

  it('in a worker without a resident addon: forced tensorflow throws BackendError, auto falls back to wasm', () => {
    // A fresh process whose main thread never loads tfjs-node.
    const res = inFreshProcess(`
      import { Worker } from 'node:worker_threads';
      const code = \`
        import { parentPort } from 'node:worker_threads';
        const { loadBackend } = await import(${JSON.stringify(BACKEND_JS)});
        const out = {};
        try { await loadBackend('tensorflow'); out.forced = 'loaded'; }
        catch (e) { out.forced = e.name; out.message = e.message; }
        const b = await loadBackend('auto');
        out.auto = b.name; out.warning = b.warning;
        parentPort.postMessage(out);\`;
      const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)));
      w.on('message', (m) => console.log(JSON.stringify(m)));
    `) as { forced: string; message: string; auto: string; warning: string };
    assert.equal(res.forced, 'BackendError');
    assert.match(res.message, /^backend tensorflow unavailable: .*not resident in the main thread/);
    assert.ok(!res.message.includes('\n'));
    assert.equal(res.auto, 'wasm');
    assert.match(res.warning, /^using the wasm backend: .*not resident/);
  });
});

describe('prepareBackend', () => {
  it('loads only the addon in the main thread for tensorflow: no tfjs JavaScript', () => {
    const res = inFreshProcess(`
      import { createRequire } from 'node:module';
      const { prepareBackend, describeBackend } = await import(${JSON.stringify(BACKEND_JS)});
      const p = await prepareBackend('auto');
      const loaded = Object.keys(createRequire(${JSON.stringify(BACKEND_JS)}).cache).filter((k) => /@tensorflow[/]tfjs(-core|-layers|-node[/]dist)?[/].*[.]js$/.test(k));
      console.log(JSON.stringify({ name: p.name, lib: p.versions.libtensorflow, node: p.versions.tfjsNode, threads: p.threads, resident: describeBackend().nativeResident, loaded }));
    `) as { name: string; lib: string; node: string; threads: unknown; resident: boolean; loaded: string[] };
    assert.equal(res.name, 'tensorflow');
    assert.match(res.lib, /^\d+\.\d+\.\d+/);
    assert.equal(res.node, '4.22.0');
    assert.deepEqual(res.threads, { intraOp: 1, interOp: 1 });
    assert.equal(res.resident, true);
    assert.deepEqual(res.loaded, [], 'tfjs modules were loaded in the main thread');
  });

  it('falls back to the full loader for wasm and cpu', async () => {
    const p = await prepareBackend('cpu');
    assert.equal(p.name, 'cpu');
    assert.equal(p.versions.libtensorflow, undefined);
    await assert.rejects(prepareBackend('gpu' as BackendName), UsageError);
  });
});

describe('libtensorflow thread pools', { skip: !existsSync('/proc/self/task') && 'needs /proc' }, () => {
  it('honours intraOpThreads / interOpThreads (threads created when the addon loads)', () => {
    const count = (intra: number, inter: number) =>
      inFreshProcess(`
        import { readdirSync } from 'node:fs';
        const n = () => readdirSync('/proc/self/task').length;
        const { loadBackend } = await import(${JSON.stringify(BACKEND_JS)});
        const tf = (await import('node:module')).createRequire(${JSON.stringify(BACKEND_JS)})('@tensorflow/tfjs');
        const before = n();
        const b = await loadBackend('tensorflow', { intraOpThreads: ${intra}, interOpThreads: ${inter} });
        b.tf.tidy(() => b.tf.matMul(b.tf.ones([256, 256]), b.tf.ones([256, 256])).dataSync());
        console.log(JSON.stringify({ added: n() - before, env: [process.env.TF_NUM_INTRAOP_THREADS, process.env.TF_NUM_INTEROP_THREADS], tf: typeof tf.version }));
      `) as { added: number; env: [string, string] };
    const base = count(1, 1);
    const more = count(4, 3);
    assert.deepEqual(base.env, ['1', '1']);
    assert.deepEqual(more.env, ['4', '3']);
    // One pool thread per unit of intra/inter-op size: (4 - 1) + (3 - 1) more threads.
    assert.equal(more.added - base.added, 5, `threads added: 1/1 -> ${base.added}, 4/3 -> ${more.added}`);
  });
});

describe('worker threads', () => {
  it('survives 3 successive waves of 2 workers loading tfjs-node after the main thread did', async () => {
    assert.equal(keepNativeResident(), true);
    const threadsAtStart = readdirSync('/proc/self/task').length;
    for (let wave = 1; wave <= 3; wave++) {
      const reports = await Promise.all([runWorker({ requested: 'auto' }), runWorker({ requested: 'tensorflow' })]);
      for (const r of reports) {
        assert.ok(r.ok, `wave ${wave}: ${r.errorName ?? ''} ${r.message ?? ''}`);
        assert.equal(r.exitCode, 0);
        assert.equal(r.name, 'tensorflow', `wave ${wave}: ${r.warning ?? ''}`);
        assert.equal(r.warning, null);
        assert.match(r.libtensorflow ?? '', /^\d+\.\d+/);
        assert.deepEqual(r.product, [19, 22, 43, 50]);
        assert.ok(Number.isFinite(r.firstLoss) && Number.isFinite(r.lastLoss));
        assert.ok((r.lastLoss ?? Infinity) < (r.firstLoss ?? 0) * 0.8, `wave ${wave}: loss ${r.firstLoss} -> ${r.lastLoss}`);
        assert.equal(r.tensorsAfter, r.tensorsBefore, 'tensors leaked in the worker');
      }
    }
    // Every wave fully exited; this process is still alive and its own backend still works.
    const b = await loadBackend('tensorflow');
    assert.deepEqual(Array.from(b.tf.tidy(() => b.tf.add(b.tf.scalar(1), b.tf.scalar(2)).dataSync())), [3]);
    assert.ok(readdirSync('/proc/self/task').length <= threadsAtStart + 8, 'worker threads were not reclaimed');
  });

  it('lean: a thread trains on tfjs-core + the native kernels, and can still load the whole tfjs-node later', async () => {
    assert.equal(keepNativeResident(), true);
    const r = await runWorker({ requested: 'tensorflow', lean: true, thenFull: true });
    assert.ok(r.ok, `${r.errorName ?? ''} ${r.message ?? ''}`);
    assert.equal(r.name, 'tensorflow');
    assert.match(r.libtensorflow ?? '', /^\d+\.\d+/);
    assert.deepEqual(r.product, [19, 22, 43, 50]);
    assert.ok((r.lastLoss ?? Infinity) < (r.firstLoss ?? 0) * 0.8, `loss ${r.firstLoss} -> ${r.lastLoss}`);
    assert.equal(r.tensorsAfter, r.tensorsBefore);
    assert.equal(r.hasLayers, false, 'the lean namespace is tfjs-core, without tfjs-layers');
    assert.equal(r.fullHasLayers, true, 'require("@tensorflow/tfjs-node") afterwards gets the whole bundle');
  });

  it('wasm initialises inside worker threads', async () => {
    const [a, b] = await Promise.all([runWorker({ requested: 'wasm' }), runWorker({ requested: 'cpu', steps: 5 })]);
    assert.equal(a.name, 'wasm', a.message);
    assert.deepEqual(a.product, [19, 22, 43, 50]);
    assert.ok((a.lastLoss ?? Infinity) < (a.firstLoss ?? 0));
    assert.equal(b.name, 'cpu', b.message);
  });
});
