import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { createRequire } from 'node:module';
import { decodedCacheDir, describeSource, locateFashionMnist } from '../../data/fashion-mnist.js';
import { errorMessage } from '../../errors.js';
import { describeBackend, loadBackend, type BackendName } from '../../training/backend.js';
import { datasetSharing } from '../../training/shared-dataset.js';
import { openStorage, sqlitePath } from '../../storage/open.js';
import { toJson } from '../format.js';
import { defaultWorkers } from '../../worker/pool.js';

const require = createRequire(import.meta.url);

function pkgVersion(name: string): string | null {
  try {
    const main = require.resolve(name);
    let dir = main;
    for (let i = 0; i < 6; i++) {
      dir = dir.slice(0, dir.lastIndexOf('/'));
      const p = `${dir}/package.json`;
      if (existsSync(p)) {
        const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (j.name === name) return j.version ?? null;
      }
    }
  } catch {
    // not installed
  }
  return null;
}

export async function infoCommand(a: { storage: string; backend: string; json: boolean; 'data-dir'?: string | undefined }): Promise<void> {
  const info: Record<string, unknown> = {};
  // The pools `hpo run` gives each worker by default.
  let pools = describeBackend().threads;
  try {
    const b = await loadBackend(a.backend as BackendName | 'auto', { intraOpThreads: 1, interOpThreads: 1 });
    const d = describeBackend(b);
    pools = d.threads;
    info['backend'] = b.name;
    info['versions'] = b.versions;
    info['nativeInstall'] = d.nativeInstall;
    if (d.kernels) info['matMulKernels'] = d.kernels.active ? `tfjs-hpo GEMM (${d.kernels.isa})` : `libtensorflow's own (tfjs-hpo GEMM off: ${d.kernels.reason})`;
    info['datasetTensors'] = datasetSharing(b.name);
    if (b.warning) info['backendWarning'] = b.warning;
  } catch (e) {
    info['backend'] = null;
    info['backendError'] = errorMessage(e);
  }
  const cpuList = cpus();
  info['threads'] = {
    cpus: availableParallelism(),
    cpuModel: cpuList[0]?.model ?? 'unknown',
    defaultWorkers: defaultWorkers(),
    intraOpThreadsPerWorker: pools.intraOp,
    interOpThreadsPerWorker: pools.interOp,
  };
  info['datasetCache'] = decodedCacheDir() ?? null;
  try {
    const found = locateFashionMnist({ dataDir: a['data-dir'] });
    info['dataset'] = found ? { dir: found.dir, source: found.source, from: describeSource(found.source) }
      : { dir: null, note: "not found; hpo run will download it into ./data/fashion-mnist, or else fetch Debian's dataset-fashion-mnist into ./data/fashion-mnist-deb" };
  } catch (e) {
    info['dataset'] = { dir: null, error: errorMessage(e) };
  }
  info['node'] = process.version;
  info['packages'] = Object.fromEntries(
    ['@tensorflow/tfjs', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm', 'piscina', 'better-sqlite3', 'pg', 'yargs'].map((n) => [n, pkgVersion(n)]),
  );
  let file: string | undefined;
  try {
    file = sqlitePath(a.storage);
  } catch (e) {
    info['storage'] = { location: a.storage, error: errorMessage(e) };
  }
  if (info['storage'] !== undefined) {
    // a bad URL, already reported
  } else if (file === undefined || existsSync(file)) {
    try {
      const s = await openStorage(a.storage);
      try {
        info['storage'] = { kind: s.kind, location: s.location, studies: (await s.listStudies()).length };
      } finally {
        await s.close();
      }
    } catch (e) {
      info['storage'] = { location: a.storage, error: errorMessage(e) };
    }
  } else {
    info['storage'] = { location: a.storage, note: 'does not exist yet' };
  }
  if (a.json) {
    process.stdout.write(toJson(info) + '\n');
    return;
  }
  const lines: string[] = [];
  const v = (info['versions'] ?? {}) as Record<string, unknown>;
  lines.push(
    `backend: ${info['backend'] ?? 'none'}${v['libtensorflow'] ? ` (libtensorflow ${String(v['libtensorflow'])})` : ''}${info['backendError'] ? ` (${String(info['backendError'])})` : ''}`,
  );
  if (info['backendWarning']) lines.push(`warning: ${String(info['backendWarning'])}`);
  const how: Record<string, string> = {
    official: "tfjs-node's own install (prebuilt libtensorflow)",
    'fallback-build': 'built offline by scripts/install-native.mjs against libtensorflow 1.15',
    'not-installed': 'tfjs-node not installed',
    unknown: 'unknown',
  };
  if (info['nativeInstall']) lines.push(`  native install: ${how[String(info['nativeInstall'])] ?? String(info['nativeInstall'])}`);
  for (const [k, x] of Object.entries(v)) if (k !== 'libtensorflow') lines.push(`  ${k}: ${String(x)}`);
  if (info['matMulKernels']) lines.push(`  matMul kernels: ${String(info['matMulKernels'])}`);
  if (info['datasetTensors']) {
    lines.push(
      info['datasetTensors'] === 'shared-bytes'
        ? '  dataset tensors: one copy per process, shared by every worker thread: training images as bytes (converted per batch by tfjs-hpo\'s gather op), test images as float32'
        : info['datasetTensors'] === 'shared'
          ? '  dataset tensors: one float32 copy per process, shared by every worker thread (read in place)'
          : '  dataset tensors: one float32 copy per worker thread (this backend copies its inputs)',
    );
  }
  const t = info['threads'] as Record<string, unknown>;
  lines.push(`threads: ${String(t['cpus'])} CPUs (${String(t['cpuModel'])}), default ${String(t['defaultWorkers'])} workers x ${String(t['intraOpThreadsPerWorker'])} intra-op / ${String(t['interOpThreadsPerWorker'])} inter-op thread(s)`);
  const d = info['dataset'] as Record<string, unknown>;
  lines.push(`dataset: ${d['dir'] ? `${String(d['dir'])} (${String(d['from'])})` : String(d['error'] ?? d['note'])}`);
  lines.push(`  decompressed copies: ${info['datasetCache'] === null ? 'none (HPO_CACHE_DIR=off)' : String(info['datasetCache'])}`);
  const st = info['storage'] as Record<string, unknown>;
  lines.push(`storage: ${String(st['location'])}${st['kind'] ? ` (${String(st['kind'])}, ${String(st['studies'])} studies)` : ` (${String(st['error'] ?? st['note'])})`}`);
  lines.push(`node ${process.version}; ${Object.entries(info['packages'] as Record<string, string | null>).map(([n, x]) => `${n} ${x ?? '-'}`).join(', ')}`);
  process.stdout.write(lines.join('\n') + '\n');
}
