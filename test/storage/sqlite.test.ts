import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { StorageError } from '../../src/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/storage/migrations.js';
import { openStorage } from '../../src/storage/open.js';
import { claimReq, runStorageContract, spec } from './contract.js';
import { checkMultiProcess } from './multiprocess.js';

const dir = mkdtempSync(join(tmpdir(), 'hpo-sqlite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = (): string => join(dir, `t${++n}.db`);

runStorageContract('sqlite', () => openStorage(freshPath()));

describe('sqlite storage specifics', () => {
  it('opens a file in WAL mode with the schema version in user_version', async () => {
    const path = freshPath();
    const s = await openStorage(`sqlite:${path}`);
    assert.equal(s.kind, 'sqlite');
    assert.equal(s.location, path);
    await s.close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    const cols = (db.prepare('PRAGMA table_info(trials)').all() as { name: string }[]).map((c) => c.name);
    assert.deepEqual(cols, [
      'id', 'study_id', 'number', 'state', 'params', 'value', 'seed', 'epochs', 'attempt', 'bracket',
      'owner', 'started_at', 'finished_at', 'heartbeat_at', 'error', 'claim_token',
    ]);
    db.close();
  });

  it('migrates a version-1 file (claim tokens, checkpoints) and keeps its data', async () => {
    const path = freshPath();
    const old = new Database(path);
    old.exec(MIGRATIONS[0]!.sqlite);
    old.pragma('user_version = 1');
    old.prepare(`INSERT INTO studies (name, objective, model, space, settings, seed) VALUES ('old', 'fashion-mnist', 'softmax', '{}', '{}', 1)`).run();
    old.prepare(`INSERT INTO trials (study_id, number, state, params, seed, owner) VALUES (1, 1, 'interrupted', '{}', 5, 'h:1:a')`).run();
    old.prepare(`INSERT INTO reports (trial_id, epoch, value) VALUES (1, 1, 0.5)`).run();
    old.close();
    const s = await openStorage(path);
    try {
      const study = await s.getStudy('old');
      assert.ok(study);
      const t = await s.claimTrial(claimReq(study.id, { token: 'x' }));
      assert.deepEqual([t?.number, t?.attempt, t?.epochs], [1, 2, 0]);
      assert.equal(await s.saveCheckpoint(t!.id, 2, 1, new Uint8Array([1, 2])), true);
      assert.deepEqual((await s.loadCheckpoint(t!.id))?.epoch, 1);
    } finally {
      await s.close();
    }
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    db.close();
  });

  it('keeps data across reopen and shares one file between storages', async () => {
    const path = freshPath();
    const a = await openStorage(path);
    const b = await openStorage(path);
    const { study } = await a.createStudy(spec());
    const t1 = await a.claimTrial(claimReq(study.id));
    const t2 = await b.claimTrial(claimReq(study.id));
    assert.deepEqual([t1?.number, t2?.number], [1, 2]);
    await a.close();
    await b.close();
    const c = await openStorage(path);
    assert.equal((await c.getTrials(study.id)).length, 2);
    await c.close();
  });

  it('readOnly: reads work, writes fail, nothing is created', async () => {
    const path = freshPath();
    await assert.rejects(openStorage(path, { readOnly: true }), /no database at/);
    const w = await openStorage(path);
    const { study } = await w.createStudy(spec());
    await w.close();
    const r = await openStorage(path, { readOnly: true });
    assert.equal((await r.getStudy(study.name))?.id, study.id);
    await assert.rejects(r.createStudy(spec()), (e: unknown) => e instanceof StorageError && /read-only/.test(e.message));
    assert.deepEqual(await r.query('SELECT count(*) AS n FROM studies'), [{ n: 1 }]);
    await r.close();
  });

  it('gives one clear line for bad paths, non-databases and newer schemas', async () => {
    await assert.rejects(openStorage(join(dir, 'missing', 'x.db')), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.match(e.message, /directory .*missing does not exist/);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'this is not a database, just some text that is long enough to have a header.'.repeat(20));
    await assert.rejects(openStorage(junk), /not a SQLite database/);
    await assert.rejects(openStorage(dir), /is a directory/);
    await assert.rejects(openStorage('ftp://host/x'), /unsupported storage URL scheme/);
    const future = freshPath();
    const db = new Database(future);
    db.pragma('user_version = 999');
    db.close();
    await assert.rejects(openStorage(future), /schema version 999 is newer/);
  });

  it('concurrent first opens of a new file migrate once', async () => {
    const path = freshPath();
    const ss = await Promise.all([openStorage(path), openStorage(path), openStorage(path)]);
    await Promise.all(ss.map((s) => s.close()));
  });

  it('3 processes claim+finish 60 trials on one file: each number exactly once', { timeout: 60_000 }, async () => {
    await checkMultiProcess(freshPath(), 3, 60);
  });
});
