import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { ReadOnlyError, StorageError } from '../../src/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/storage/migrations.js';
import { openStorage } from '../../src/storage/open.js';
import { claimReq, runStorageContract, spec } from './contract.js';
import { checkMultiProcess } from './multiprocess.js';

/**
 * Point at a server with HPO_TEST_PG_URL (any database you may create schemas in). Each
 * storage opened here lives in its own fresh schema (search_path set through the URL),
 * dropped at the end, so parallel runs and CI jobs do not clash.
 */
const BASE = process.env['HPO_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `hpo_test_${process.pid}_${Date.now().toString(36)}`;
const schemas: string[] = [];

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: BASE, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

let unreachable: string | undefined;
try {
  await admin((c) => c.query('SELECT 1'));
} catch (e) {
  unreachable = `PostgreSQL not reachable at ${BASE} (${e instanceof Error ? e.message || e.name : String(e)}); set HPO_TEST_PG_URL=postgres://user@host:port/db to run these tests`;
  console.log(`# SKIP postgres storage tests: ${unreachable}`);
}

/** A URL whose connections use a brand-new schema. */
async function freshUrl(): Promise<string> {
  const schema = `${RUN}_${schemas.length + 1}`;
  schemas.push(schema);
  await admin((c) => c.query(`CREATE SCHEMA ${schema}`));
  const sep = BASE.includes('?') ? '&' : '?';
  return `${BASE}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

after(async () => {
  if (unreachable !== undefined || schemas.length === 0) return;
  await admin(async (c) => {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  });
});

if (unreachable === undefined) {
  runStorageContract('postgres', async () => openStorage(await freshUrl()));
}

describe('postgres storage specifics', { skip: unreachable }, () => {
  it('creates the schema in the search_path schema with a schema_version row', async () => {
    const url = await freshUrl();
    const s = await openStorage(url);
    assert.equal(s.kind, 'postgres');
    await s.close();
    const schema = schemas[schemas.length - 1]!;
    const r = await admin((c) => c.query(`SELECT max(version) AS v FROM ${schema}.schema_version`));
    assert.equal(r.rows[0].v, SCHEMA_VERSION);
    const cols = await admin((c) =>
      c.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'trials' ORDER BY ordinal_position`, [schema]),
    );
    assert.deepEqual(
      cols.rows.map((x: { column_name: string }) => x.column_name),
      ['id', 'study_id', 'number', 'state', 'params', 'value', 'seed', 'epochs', 'attempt', 'bracket', 'owner', 'started_at', 'finished_at', 'heartbeat_at', 'error', 'claim_token'],
    );
  });

  it('migrates a version-1 schema (claim tokens, checkpoints) and keeps its data', async () => {
    const url = await freshUrl();
    const schema = schemas.at(-1)!;
    await admin(async (c) => {
      await c.query(`SET search_path = ${schema}`);
      await c.query('CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      await c.query(MIGRATIONS[0]!.postgres);
      await c.query('INSERT INTO schema_version (version) VALUES (1)');
      await c.query(`INSERT INTO studies (name, objective, model, space, settings, seed) VALUES ('old', 'fashion-mnist', 'softmax', '{}', '{}', 1)`);
      await c.query(`INSERT INTO trials (study_id, number, state, params, seed, owner) SELECT id, 1, 'interrupted', '{}', 5, 'h:1:a' FROM studies`);
    });
    const s = await openStorage(url);
    try {
      const study = await s.getStudy('old');
      assert.ok(study);
      const t = await s.claimTrial(claimReq(study.id, { token: 'x' }));
      assert.deepEqual([t?.number, t?.attempt], [1, 2]);
      assert.equal(await s.saveCheckpoint(t!.id, 2, 1, new Uint8Array([1, 2])), true);
      assert.deepEqual((await s.loadCheckpoint(t!.id))?.data, new Uint8Array([1, 2]));
    } finally {
      await s.close();
    }
    const r = await admin((c) => c.query(`SELECT max(version) AS v FROM ${schema}.schema_version`));
    assert.equal(r.rows[0].v, SCHEMA_VERSION);
  });

  it('concurrent first opens migrate once (advisory lock)', async () => {
    const url = await freshUrl();
    const ss = await Promise.all([openStorage(url), openStorage(url), openStorage(url), openStorage(url)]);
    await Promise.all(ss.map((s) => s.close()));
    const schema = schemas[schemas.length - 1]!;
    const r = await admin((c) => c.query(`SELECT count(*)::int AS n FROM ${schema}.schema_version`));
    assert.equal(r.rows[0].n, SCHEMA_VERSION);
  });

  it('hides the password in location and messages', async () => {
    const u = new URL(BASE);
    u.password = 'sekret';
    u.port = '1';
    await assert.rejects(openStorage(u.toString()), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.doesNotMatch(e.message, /sekret/);
      assert.match(e.message, /unreachable/);
      return true;
    });
  });

  it('readOnly: reads work, writes are refused', async () => {
    const url = await freshUrl();
    const w = await openStorage(url);
    const { study } = await w.createStudy(spec());
    await w.close();
    const r = await openStorage(url, { readOnly: true });
    assert.equal((await r.getStudy(study.name))?.id, study.id);
    await assert.rejects(r.createStudy(spec()), /read-only/);
    await r.close();
  });

  it('query refuses data-modifying CTEs and EXPLAIN ANALYZE of writes', async () => {
    const s = await openStorage(await freshUrl());
    try {
      await s.createStudy(spec());
      for (const sql of [
        `WITH x AS (DELETE FROM studies RETURNING *) SELECT * FROM x`,
        `EXPLAIN ANALYZE DELETE FROM studies`,
        `SELECT set_config('default_transaction_read_only', 'off', false), nextval('studies_id_seq')`,
      ]) {
        await assert.rejects(s.query(sql), (e: unknown) => e instanceof ReadOnlyError && /^hpo sql is read-only: /.test(e.message));
      }
      assert.equal((await s.listStudies()).length, 1);
    } finally {
      await s.close();
    }
  });

  it('a bad URL is one clear line', async () => {
    await assert.rejects(openStorage('postgres://[::1'), /bad PostgreSQL URL/);
  });

  it('3 processes claim+finish 60 trials in one study: each number exactly once', { timeout: 60_000 }, async () => {
    await checkMultiProcess(await freshUrl(), 3, 60);
  });
});
