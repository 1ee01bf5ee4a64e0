// Storage overhead per trial: claim + 2 epoch reports + finish, no training, for SQLite and
// PostgreSQL, with 1 and 3 processes sharing one study that already holds 1k or 20k trials.
// Prints a markdown table and replaces the "## Storage overhead" section of RESULTS.md.
//
//   npm run build && node native-bench/storage.mjs [--trials 1000] [--no-write]
//   HPO_BENCH_PG_URL=postgres://user@host:5432/db   (default postgres://postgres@127.0.0.1:5432/test)
//
// Child processes are this same file started with --worker.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage } from '../dist/src/storage/open.js';
import { cpuModel, writeSection } from './results.mjs';

const SELF = fileURLToPath(import.meta.url);
const RESULTS = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const SPACE = { x: { type: 'uniform', low: 0, high: 1 } };
const newTrial = (n) => ({ params: { x: (n % 1000) / 1000 }, seed: n, bracket: null });

/** One trial's storage traffic, as a study loop would produce it. */
async function oneTrial(s, studyId, maxTrials, owner) {
  const t = await s.claimTrial({ studyId, maxTrials, owner, staleAfterMs: 600_000, newTrial });
  if (t === null) return null;
  for (const epoch of [1, 2]) {
    if (!(await s.recordReport(t.id, t.attempt, epoch, 1 / (t.number + epoch)))) throw new Error(`lost trial ${t.number}`);
  }
  if (!(await s.finishTrial(t.id, t.attempt, { state: 'completed', value: 1 / (t.number + 2) }))) throw new Error(`lost trial ${t.number}`);
  return t.number;
}

async function openStudy(url, name) {
  const s = await openStorage(url);
  const { study } = await s.createStudy({ name, objective: 'bench', model: null, space: SPACE, settings: {}, seed: 1 });
  return { s, study };
}

if (process.argv[2] === '--worker') {
  const [url, name, max, owner] = process.argv.slice(3);
  const { s, study } = await openStudy(url, name);
  let n = 0;
  const t0 = performance.now();
  while ((await oneTrial(s, study.id, Number(max), owner)) !== null) n++;
  const ms = performance.now() - t0;
  await s.close();
  process.stdout.write(JSON.stringify({ n, ms }) + '\n');
  process.exit(0);
}

const args = process.argv.slice(2);
const arg = (k, d) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const MEASURED = Number(arg('--trials', '1000'));
const PRELOADS = [1000, 20000];
const PROCS = [1, 3];
const PG_BASE = process.env.HPO_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function worker(url, name, max, owner) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [SELF, '--worker', url, name, String(max), owner], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${code}`))));
  });
}

/**
 * Fill a new study with `count` completed trials (2 reports each). Seeded with one SQL
 * statement per table rather than through the API, so 20k trials take a second, not minutes.
 */
async function preload(url, name, count, kind) {
  const { s, study } = await openStudy(url, name);
  await s.close();
  if (kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url);
    db.pragma('busy_timeout = 30000');
    db.transaction(() => {
      db.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO trials (study_id, number, state, params, value, seed, epochs, attempt, owner, started_at, finished_at, heartbeat_at)
         SELECT ?, i, 'completed', json_object('x', (i % 1000) / 1000.0), 1.0 / (i + 2), i, 2, 1, 'preload',
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
           FROM n`,
      ).run(count, study.id);
      db.prepare(
        `INSERT INTO reports (trial_id, epoch, value)
         SELECT t.id, e.e, 1.0 / (t.number + e.e) FROM trials t, (SELECT 1 AS e UNION ALL SELECT 2) e WHERE t.study_id = ?`,
      ).run(study.id);
    }).immediate();
    db.close();
  } else {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(
      `INSERT INTO trials (study_id, number, state, params, value, seed, epochs, attempt, owner, started_at, finished_at, heartbeat_at)
       SELECT $1, i, 'completed', json_build_object('x', (i % 1000) / 1000.0), 1.0 / (i + 2), i, 2, 1, 'preload', now(), now(), now()
         FROM generate_series(1, $2::int) i`,
      [study.id, count],
    );
    await c.query(
      `INSERT INTO reports (trial_id, epoch, value)
       SELECT t.id, e, 1.0 / (t.number + e) FROM trials t, generate_series(1, 2) e WHERE t.study_id = $1`,
      [study.id],
    );
    await c.query('ANALYZE trials; ANALYZE reports');
    await c.end();
  }
}

/** Measure `procs` processes completing MEASURED more trials of a study holding `stored`. */
async function measure(url, name, stored, procs) {
  const max = stored + MEASURED;
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: procs }, (_, i) => worker(url, name, max, `bench:${i}`)));
  const wall = performance.now() - t0;
  const done = rs.reduce((a, r) => a + r.n, 0);
  if (done !== MEASURED) throw new Error(`expected ${MEASURED} trials, got ${done}`);
  // Latency seen by one process for one trial, and what all of them achieve together.
  const perProc = rs.reduce((a, r) => a + r.ms, 0) / done;
  const loopWall = Math.max(...rs.map((r) => r.ms));
  return { perTrialMs: perProc, throughput: done / (loopWall / 1000), wallS: wall / 1000 };
}

async function pgAdmin() {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: PG_BASE, connectionTimeoutMillis: 3000 });
  await c.connect();
  return c;
}

const rows = [];
const info = { load: os.loadavg()[0].toFixed(1), cpu: cpuModel(), cores: os.cpus().length, node: process.version, sqlite: '?', pg: 'not run' };

// SQLite: one file per preload size in the temp dir (tmpfs or disk: noted below).
const dir = mkdtempSync(join(os.tmpdir(), 'hpo-bench-'));
try {
  for (const stored of PRELOADS) {
    const url = join(dir, `bench-${stored}.db`);
    for (const procs of PROCS) {
      const name = `s${stored}-p${procs}`;
      await preload(url, name, stored, 'sqlite');
      const r = await measure(url, name, stored, procs);
      rows.push({ backend: 'SQLite', stored, procs, ...r });
      console.error(`sqlite stored=${stored} procs=${procs}: ${r.perTrialMs.toFixed(3)} ms/trial`);
    }
    if (info.sqlite === '?') {
      const s = await openStorage(url, { readOnly: true });
      info.sqlite = String((await s.query('SELECT sqlite_version() AS v'))[0].v);
      await s.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// PostgreSQL: a fresh schema per preload size, dropped afterwards.
let admin;
try {
  admin = await pgAdmin();
} catch (e) {
  console.error(`# PostgreSQL not reachable at ${PG_BASE} (${e.message || e.code}); set HPO_BENCH_PG_URL to include it`);
}
if (admin) {
  info.pg = (await admin.query('SHOW server_version')).rows[0].server_version;
  for (const stored of PRELOADS) {
    const schema = `hpo_bench_${process.pid}_${stored}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    try {
      for (const procs of PROCS) {
        const name = `s${stored}-p${procs}`;
        await preload(url, name, stored, 'postgres');
        const r = await measure(url, name, stored, procs);
        rows.push({ backend: 'PostgreSQL', stored, procs, ...r });
        console.error(`postgres stored=${stored} procs=${procs}: ${r.perTrialMs.toFixed(3)} ms/trial`);
      }
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  }
  await admin.end();
}

const fmtN = (n) => (n >= 1000 ? `${n / 1000}k` : String(n));
const table = [
  '| backend | trials already stored | processes | ms per trial (per process) | trials/s (all processes) |',
  '|---|---:|---:|---:|---:|',
  ...rows.map(
    (r) => `| ${r.backend} | ${fmtN(r.stored)} | ${r.procs} | ${r.perTrialMs.toFixed(3)} | ${Math.round(r.throughput)} |`,
  ),
].join('\n');

const section = `## Storage overhead

Storage work per trial with no training: \`claimTrial\` + 2 \`recordReport\` + \`finishTrial\`,
each call its own transaction, as the study loop issues them. The study already holds the given
number of completed trials (2 reports each, seeded with SQL); ${MEASURED} more are then claimed by 1 or 3 separate
\`node\` processes sharing the study. "ms per trial" is the time one process spends per trial
(summed over processes / trials); "trials/s" is the combined rate. Run: \`npm run build && node native-bench/storage.mjs\`.

${table}

Machine: ${info.cpu}, ${info.cores} cores, Node ${info.node}, SQLite ${info.sqlite} (WAL, synchronous=NORMAL,
file in ${os.tmpdir()}), PostgreSQL ${info.pg} on localhost (TCP, default synchronous_commit=on: every call that
commits waits for a WAL flush, which dominates the PostgreSQL numbers on this disk). Load average at start ${info.load}
(1-min). Measured ${new Date().toISOString().slice(0, 10)}.
`;

console.log(table);
if (!args.includes('--no-write')) {
  writeSection('Storage overhead', section.replace(/^## Storage overhead\n/, ''));
  console.error(`wrote the "## Storage overhead" section of ${RESULTS}`);
}
