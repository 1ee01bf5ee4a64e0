import pg from 'pg';
import { HpoError, StorageError } from '../errors.js';
import type { Params } from '../space/distribution.js';
import { migratePostgres } from './migrations.js';
import {
  checkCheckpoint,
  checkClaim,
  checkEnqueue,
  checkEnqueueItems,
  checkFinish,
  checkHistoryQuery,
  checkNewTrial,
  checkReport,
  checkSeed,
  emptyCounts,
  leadingKeyword,
  plainRow,
  readOnlyRefusal,
  staleReason,
  summarize,
  toHistory,
  toStudy,
  toTrial,
  type HistoryDbRow,
  type HistoryReportRow,
  type StudyRow,
  type SummaryRow,
  type TrialRow,
} from './records.js';
import type {
  Checkpoint,
  ClaimRequest,
  EnqueueItem,
  EnqueueResult,
  EpochReport,
  FinalState,
  HistoryQuery,
  HistoryRow,
  FinishOutcome,
  RungResult,
  Storage,
  StudyRecord,
  StudySpec,
  StudySummary,
  TrialRecord,
  TrialState,
} from './storage.js';
import { TERMINAL_STATES } from './storage.js';

export interface PostgresOptions {
  /** Open without writing anything: no migration, every transaction read-only. Default false. */
  readonly readOnly?: boolean;
  /** Most connections this process opens for storage calls. Default 8. */
  readonly maxConnections?: number;
  /** Give up connecting after this long. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
}

const OID_INT8 = 20;
const OID_TIMESTAMP = 1114;
const OID_TIMESTAMPTZ = 1184;

/**
 * int8 -> number when exact, else the decimal string; timestamps -> ISO-8601 UTC strings,
 * the same shape SQLite stores. Everything else as pg parses it by default.
 */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (v: string) => unknown {
    if (format === undefined || format === 'text') {
      if (oid === OID_INT8) {
        return (v: string) => {
          const n = Number(v);
          return Number.isSafeInteger(n) ? n : v;
        };
      }
      if (oid === OID_TIMESTAMPTZ || oid === OID_TIMESTAMP) {
        const base = pg.types.getTypeParser(oid, 'text') as (v: string) => unknown;
        return (v: string) => {
          const d = base(v);
          return d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : v;
        };
      }
    }
    return pg.types.getTypeParser(oid, format ?? 'text') as (v: string) => unknown;
  },
};

/** Statement keywords `query` accepts; anything else is refused before it reaches the server. */
const READERS = new Set(['select', 'with', 'values', 'table', 'explain', 'show']);

/** The database clock; clock_timestamp() rather than now() so waiting for a lock does not age a write. */
const NOW = 'clock_timestamp()';

const SQL = {
  insertStudy: `INSERT INTO studies (name, objective, model, space, settings, seed)
                VALUES ($1, $2, $3, $4::json, $5::json, $6)
                ON CONFLICT (name) DO NOTHING RETURNING *`,
  studyByName: `SELECT * FROM studies WHERE name = $1`,
  listStudies: `SELECT s.id, s.name, s.objective, s.model, s.created_at, t.state, count(t.id) AS n,
                       min(CASE WHEN t.state = 'completed' THEN t.value END) AS best
                  FROM studies s LEFT JOIN trials t ON t.study_id = s.id
                 GROUP BY s.id, t.state ORDER BY s.id`,
  // Serialises claims of one study across processes and machines. NO KEY UPDATE does not
  // block inserts of trials that reference the study (they take KEY SHARE).
  lockStudy: `SELECT id FROM studies WHERE id = $1 FOR NO KEY UPDATE`,
  // A new statement after the lock, so its snapshot sees every claim committed before.
  pick: `WITH stale AS (
           UPDATE trials SET state = 'interrupted', error = $2 || ' (owner ' || coalesce(owner, '?') || ')'
            WHERE study_id = $1 AND state = 'running' AND owner IS DISTINCT FROM $4
              AND (heartbeat_at IS NULL OR heartbeat_at < ${NOW} - $3::float8 * interval '1 millisecond')
           RETURNING id, number)
         SELECT (SELECT id FROM (SELECT id, number FROM stale
                                 UNION ALL
                                 SELECT id, number FROM trials WHERE study_id = $1 AND state = 'interrupted') x
                  ORDER BY number LIMIT 1) AS again,
                coalesce((SELECT number FROM trials WHERE study_id = $1 ORDER BY number DESC LIMIT 1), 0) AS n`,
  byToken: `SELECT * FROM trials WHERE study_id = $1 AND claim_token = $2 AND owner = $3 AND state = 'running'`,
  // Reports up to the checkpoint stay: the resumed attempt continues after that epoch.
  reclaim: `WITH cp AS (SELECT coalesce((SELECT epoch FROM checkpoints WHERE trial_id = $1), 0) AS e),
                 gone AS (DELETE FROM reports WHERE trial_id = $1 AND epoch > (SELECT e FROM cp))
            UPDATE trials SET state = 'running', attempt = attempt + 1, owner = $2, value = NULL, epochs = (SELECT e FROM cp),
                   error = NULL, started_at = ${NOW}, heartbeat_at = ${NOW}, finished_at = NULL, claim_token = $3
             WHERE id = $1 RETURNING *`,
  insertTrial: `INSERT INTO trials (study_id, number, state, params, seed, bracket, owner, started_at, heartbeat_at, claim_token)
                VALUES ($1, $2, 'running', $3::json, $4, $5, $6, ${NOW}, ${NOW}, $7) RETURNING *`,
  report: `WITH t AS (
             UPDATE trials SET epochs = GREATEST(epochs, $3::integer), heartbeat_at = ${NOW}
              WHERE id = $1 AND state = 'running' AND attempt = $2 RETURNING id)
           INSERT INTO reports (trial_id, epoch, value) SELECT id, $3, $4 FROM t
           ON CONFLICT (trial_id, epoch) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`,
  finish: `WITH f AS (
             UPDATE trials SET state = $1, value = $2, error = $3, heartbeat_at = ${NOW},
                    finished_at = CASE WHEN $4::boolean THEN ${NOW} ELSE NULL END
              WHERE id = $5 AND state = 'running' AND attempt = $6 RETURNING id),
           gone AS (DELETE FROM checkpoints WHERE $7::boolean AND trial_id IN (SELECT id FROM f))
           SELECT count(*)::int AS n FROM f`,
  saveCheckpoint: `WITH t AS (SELECT id FROM trials WHERE id = $1 AND state = 'running' AND attempt = $2)
                   INSERT INTO checkpoints (trial_id, epoch, data) SELECT id, $3, $4 FROM t
                   ON CONFLICT (trial_id) DO UPDATE SET epoch = excluded.epoch, data = excluded.data, created_at = excluded.created_at`,
  loadCheckpoint: `SELECT epoch, data FROM checkpoints WHERE trial_id = $1`,
  heartbeat: `UPDATE trials SET heartbeat_at = ${NOW} WHERE owner = $1 AND state = 'running' AND id = ANY($2::bigint[])`,
  interruptOwners: `UPDATE trials SET state = 'interrupted', error = $1
                     WHERE study_id = $2 AND state = 'running' AND owner = ANY($3::text[])`,
  runningOwners: `SELECT DISTINCT owner FROM trials WHERE study_id = $1 AND state = 'running' AND owner IS NOT NULL ORDER BY owner`,
  trials: `SELECT * FROM trials WHERE study_id = $1 ORDER BY number`,
  trialsIn: `SELECT * FROM trials WHERE study_id = $1 AND state = ANY($2::text[]) ORDER BY number`,
  reports: `SELECT r.trial_id, t.number, r.epoch, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
             WHERE t.study_id = $1 ORDER BY t.number, r.epoch`,
  reportsOf: `SELECT r.trial_id, t.number, r.epoch, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
               WHERE t.study_id = $1 AND r.trial_id = $2 ORDER BY r.epoch`,
  rung: `SELECT t.number, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
          WHERE t.study_id = $1 AND r.epoch = $2 ORDER BY r.value, t.number`,
  rungBracket: `SELECT t.number, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
                 WHERE t.study_id = $1 AND r.epoch = $2 AND t.bracket = $3::integer ORDER BY r.value, t.number`,
  enqueue: `WITH ins AS (INSERT INTO enqueued (study_id, params) VALUES ($1, $2::json) RETURNING 1)
            SELECT (SELECT count(*) FROM enqueued WHERE study_id = $1) + (SELECT count(*) FROM ins) AS n`,
  queueAll: `SELECT params FROM enqueued WHERE study_id = $1 ORDER BY id`,
  queueInsert: `INSERT INTO enqueued (study_id, params) VALUES ($1, $2::json)`,
  queueCount: `SELECT count(*) AS n FROM enqueued WHERE study_id = $1`,
  enqueueKey: `INSERT INTO enqueue_keys (study_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
  // Runs under the study's row lock (claimTrial), so two claimers never pop the same config.
  queuePop: `DELETE FROM enqueued WHERE id = (SELECT id FROM enqueued WHERE study_id = $1 ORDER BY id LIMIT 1) RETURNING params`,
  history: `SELECT number, state, params, value FROM trials
             WHERE study_id = $1 AND (number > $2 OR number = ANY($3::integer[])) ORDER BY number`,
  historyReports: `SELECT t.number, r.epoch, r.value FROM trials t JOIN reports r ON r.trial_id = t.id
                    WHERE t.study_id = $1 AND (t.number > $2 OR t.number = ANY($3::integer[]))
                    ORDER BY t.number, r.epoch`,
  best: `SELECT * FROM trials WHERE study_id = $1 AND state = 'completed' AND value IS NOT NULL
          ORDER BY value, number LIMIT 1`,
  counts: `SELECT state, count(*) AS n FROM trials WHERE study_id = $1 GROUP BY state`,
} as const;

/**
 * Storage in a PostgreSQL database (the first schema on the connection's search_path).
 * Claims are serialised per study by a row lock on the study, so any number of processes
 * on any number of machines can share a study. Times come from the database clock.
 */
export class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly readOnly: boolean;
  private readonly pool: pg.Pool;
  private readonly config: pg.PoolConfig;
  private readPool: pg.Pool | undefined;
  private closed = false;

  private constructor(pool: pg.Pool, config: pg.PoolConfig, location: string, readOnly: boolean) {
    this.pool = pool;
    this.config = config;
    this.location = location;
    this.readOnly = readOnly;
  }

  /**
   * Connect, check the server, and migrate the schema (unless readOnly).
   * @throws StorageError with one line: bad URL, server unreachable, authentication or
   *   database errors, schema from a newer release.
   */
  static async open(url: string, opts: PostgresOptions = {}): Promise<PostgresStorage> {
    const location = redact(url);
    const readOnly = opts.readOnly ?? false;
    const config: pg.PoolConfig = {
      connectionString: url,
      max: opts.maxConnections ?? 8,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      allowExitOnIdle: true,
      // A server that vanished without closing its sockets (a failed-over host) is noticed
      // by TCP keepalive instead of hanging a query until the kernel gives up hours later.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      types: TYPES as pg.CustomTypesConfig,
    };
    const pool = makePool(config, readOnly);
    let client: Checkout;
    try {
      client = await checkout(pool);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw wrapPg(e, location, 'cannot connect');
    }
    try {
      await migratePostgres(client.c, `postgres ${location}`, readOnly);
      client.release(false);
    } catch (e) {
      client.release(true);
      await pool.end().catch(() => undefined);
      throw wrapPg(e, location, 'cannot prepare the schema');
    }
    return new PostgresStorage(pool, config, location, readOnly);
  }

  private async q<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StorageError(`postgres ${this.location}: storage is closed`);
    try {
      return await this.pool.query<R>(text, values);
    } catch (e) {
      throw wrapPg(e, this.location, what, text, values);
    }
  }

  /** Run `fn` in a transaction; retried on deadlock / serialization failure. */
  private async tx<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StorageError(`postgres ${this.location}: storage is closed`);
    for (let attempt = 1; ; attempt++) {
      let co: Checkout;
      try {
        co = await checkout(this.pool);
      } catch (e) {
        throw wrapPg(e, this.location, what);
      }
      const c = co.c;
      try {
        await c.query('BEGIN');
        const r = await fn(c);
        await c.query('COMMIT');
        co.release(false);
        return r;
      } catch (e) {
        let broken = false;
        await c.query('ROLLBACK').catch(() => {
          broken = true;
        });
        co.release(broken);
        const code = (e as { code?: unknown }).code;
        if ((code === '40P01' || code === '40001') && attempt < 5) continue;
        throw wrapPg(e, this.location, what);
      }
    }
  }

  async createStudy(spec: StudySpec): Promise<{ study: StudyRecord; created: boolean }> {
    checkSeed(spec.seed, 'createStudy');
    if (typeof spec.name !== 'string' || spec.name === '') throw new TypeError('createStudy: name must be a non-empty string');
    const what = `createStudy ${spec.name}`;
    const ins = await this.q<StudyRow>(what, SQL.insertStudy, [
      spec.name,
      spec.objective,
      spec.model,
      JSON.stringify(spec.space),
      JSON.stringify(spec.settings),
      spec.seed,
    ]);
    if (ins.rows[0] !== undefined) return { study: toStudy(ins.rows[0]), created: true };
    const existing = await this.q<StudyRow>(what, SQL.studyByName, [spec.name]);
    if (existing.rows[0] === undefined) throw new StorageError(`postgres ${this.location}: ${what}: study vanished while creating it`);
    return { study: toStudy(existing.rows[0]), created: false };
  }

  async getStudy(name: string): Promise<StudyRecord | undefined> {
    const r = await this.q<StudyRow>(`getStudy ${name}`, SQL.studyByName, [name]);
    return r.rows[0] === undefined ? undefined : toStudy(r.rows[0]);
  }

  async listStudies(): Promise<StudySummary[]> {
    return summarize((await this.q<SummaryRow>('listStudies', SQL.listStudies, [])).rows);
  }

  async claimTrial(req: ClaimRequest): Promise<TrialRecord | null> {
    checkClaim(req);
    return this.tx(`claimTrial study ${req.studyId}`, async (c) => {
      const lock = await c.query(SQL.lockStudy, [req.studyId]);
      if (lock.rowCount === 0) throw new StorageError(`postgres ${this.location}: no study with id ${req.studyId}`);
      const token = req.token ?? null;
      if (token !== null) {
        const mine = await c.query<TrialRow>(SQL.byToken, [req.studyId, token, req.owner]);
        if (mine.rows[0] !== undefined) return toTrial(mine.rows[0]);
      }
      const pick = (
        await c.query<{ again: number | null; n: number }>(SQL.pick, [req.studyId, staleReason(req.staleAfterMs), req.staleAfterMs, req.owner])
      ).rows[0];
      if (pick === undefined) throw new Error('bug: claim pick returned no row');
      if (pick.again !== null) {
        const r = await c.query<TrialRow>(SQL.reclaim, [pick.again, req.owner, token]);
        return toTrial(r.rows[0]!);
      }
      const n = Number(pick.n);
      if (n >= req.maxTrials) return null;
      const number = n + 1;
      const head = (await c.query<{ params: Params }>(SQL.queuePop, [req.studyId])).rows[0];
      const t = checkNewTrial(head === undefined ? req.newTrial(number) : req.newTrial(number, head.params), number);
      const r = await c.query<TrialRow>(SQL.insertTrial, [req.studyId, number, t.params, t.seed, t.bracket, req.owner, token]);
      return toTrial(r.rows[0]!);
    });
  }

  async enqueueTrial(studyId: number, params: Params): Promise<number> {
    checkEnqueue(params);
    return this.tx(`enqueueTrial study ${studyId}`, async (c) => {
      const lock = await c.query(SQL.lockStudy, [studyId]);
      if (lock.rowCount === 0) throw new StorageError(`postgres ${this.location}: no study with id ${studyId}`);
      const r = await c.query<{ n: string | number }>(SQL.enqueue, [studyId, JSON.stringify(params)]);
      return Number(r.rows[0]!.n);
    });
  }

  async enqueueTrials(studyId: number, items: readonly EnqueueItem[]): Promise<EnqueueResult> {
    checkEnqueueItems(items);
    return this.tx(`enqueueTrials study ${studyId}`, async (c) => {
      const lock = await c.query(SQL.lockStudy, [studyId]);
      if (lock.rowCount === 0) throw new StorageError(`postgres ${this.location}: no study with id ${studyId}`);
      let added = 0;
      for (const it of items) {
        // A key seen before: queued by an earlier call, skip.
        if (it.key !== undefined && (await c.query(SQL.enqueueKey, [studyId, it.key])).rowCount === 0) continue;
        await c.query(SQL.queueInsert, [studyId, JSON.stringify(it.params)]);
        added++;
      }
      const r = await c.query<{ n: string | number }>(SQL.queueCount, [studyId]);
      return { added, skipped: items.length - added, waiting: Number(r.rows[0]!.n) };
    });
  }

  async enqueuedTrials(studyId: number): Promise<Params[]> {
    const r = await this.q<{ params: Params }>(`enqueuedTrials study ${studyId}`, SQL.queueAll, [studyId]);
    return r.rows.map((x) => x.params);
  }

  async recordReport(trialId: number, attempt: number, epoch: number, value: number): Promise<boolean> {
    checkReport(trialId, attempt, epoch, value);
    const r = await this.q(`recordReport trial ${trialId} epoch ${epoch}`, SQL.report, [trialId, attempt, epoch, value]);
    return (r.rowCount ?? 0) > 0;
  }

  async finishTrial(trialId: number, attempt: number, outcome: FinishOutcome): Promise<boolean> {
    checkFinish(trialId, attempt, outcome);
    const terminal = (TERMINAL_STATES as readonly string[]).includes(outcome.state);
    const r = await this.q<{ n: number }>(`finishTrial trial ${trialId}`, SQL.finish, [
      outcome.state,
      outcome.value,
      outcome.error ?? null,
      terminal,
      trialId,
      attempt,
      terminal && outcome.keepCheckpoint !== true,
    ]);
    return (r.rows[0]?.n ?? 0) > 0;
  }

  async saveCheckpoint(trialId: number, attempt: number, epoch: number, data: Uint8Array): Promise<boolean> {
    checkCheckpoint(trialId, attempt, epoch, data);
    const r = await this.q(`saveCheckpoint trial ${trialId} epoch ${epoch}`, SQL.saveCheckpoint, [
      trialId,
      attempt,
      epoch,
      Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async loadCheckpoint(trialId: number): Promise<Checkpoint | undefined> {
    const r = await this.q<{ epoch: number; data: Buffer }>(`loadCheckpoint trial ${trialId}`, SQL.loadCheckpoint, [trialId]);
    const row = r.rows[0];
    return row === undefined ? undefined : { epoch: row.epoch, data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) };
  }

  async heartbeat(owner: string, trialIds: readonly number[]): Promise<void> {
    if (trialIds.length === 0) return;
    await this.q(`heartbeat ${owner}`, SQL.heartbeat, [owner, [...trialIds]]);
  }

  async interruptOwners(studyId: number, owners: readonly string[], reason: string): Promise<number> {
    if (owners.length === 0) return 0;
    const r = await this.q(`interruptOwners study ${studyId}`, SQL.interruptOwners, [reason, studyId, [...owners]]);
    return r.rowCount ?? 0;
  }

  async runningOwners(studyId: number): Promise<string[]> {
    const r = await this.q<{ owner: string }>(`runningOwners study ${studyId}`, SQL.runningOwners, [studyId]);
    return r.rows.map((x) => x.owner);
  }

  async getTrials(studyId: number, opts?: { states?: readonly TrialState[] }): Promise<TrialRecord[]> {
    const what = `getTrials study ${studyId}`;
    const r =
      opts?.states === undefined
        ? await this.q<TrialRow>(what, SQL.trials, [studyId])
        : await this.q<TrialRow>(what, SQL.trialsIn, [studyId, [...opts.states]]);
    return r.rows.map(toTrial);
  }

  async getReports(studyId: number, opts?: { trialId?: number }): Promise<EpochReport[]> {
    const what = `getReports study ${studyId}`;
    type Row = { trial_id: number; number: number; epoch: number; value: number };
    const r =
      opts?.trialId === undefined
        ? await this.q<Row>(what, SQL.reports, [studyId])
        : await this.q<Row>(what, SQL.reportsOf, [studyId, opts.trialId]);
    return r.rows.map((x) => ({ trialId: x.trial_id, trialNumber: x.number, epoch: x.epoch, value: x.value }));
  }

  async rungResults(studyId: number, epoch: number, bracket?: number | null): Promise<RungResult[]> {
    const what = `rungResults study ${studyId} epoch ${epoch}`;
    // null / undefined: every trial of the study (what RungStore asks for).
    type Row = { number: number; value: number };
    const r =
      bracket == null
        ? await this.q<Row>(what, SQL.rung, [studyId, epoch])
        : await this.q<Row>(what, SQL.rungBracket, [studyId, epoch, bracket]);
    return r.rows.map((x) => ({ trialNumber: x.number, value: x.value }));
  }

  async trialHistory(studyId: number, q: HistoryQuery): Promise<HistoryRow[]> {
    checkHistoryQuery(q);
    const what = `trialHistory study ${studyId}`;
    const args = [studyId, q.after, [...(q.numbers ?? [])]];
    const rows = (await this.q<HistoryDbRow>(what, SQL.history, args)).rows;
    const reports = q.reports === true ? (await this.q<HistoryReportRow>(what, SQL.historyReports, args)).rows : [];
    return toHistory(rows, reports);
  }

  async bestTrial(studyId: number): Promise<TrialRecord | undefined> {
    const r = await this.q<TrialRow>(`bestTrial study ${studyId}`, SQL.best, [studyId]);
    return r.rows[0] === undefined ? undefined : toTrial(r.rows[0]);
  }

  async stateCounts(studyId: number): Promise<Record<TrialState, number>> {
    const c = emptyCounts();
    const r = await this.q<{ state: TrialState; n: number }>(`stateCounts study ${studyId}`, SQL.counts, [studyId]);
    for (const x of r.rows) c[x.state] = Number(x.n);
    return c;
  }

  /**
   * Run one statement in a READ ONLY transaction on a separate connection whose default
   * transaction mode is read-only; it is always rolled back. Only statements starting with
   * SELECT, WITH, VALUES, TABLE, EXPLAIN or SHOW are sent, with the extended protocol, which
   * refuses several statements in one string.
   * @throws ReadOnlyError for anything that would write; StorageError for SQL errors.
   */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    if (this.closed) throw new StorageError(`postgres ${this.location}: storage is closed`);
    const kw = leadingKeyword(sql);
    if (!READERS.has(kw)) {
      throw readOnlyRefusal(
        `only SELECT, WITH, VALUES, TABLE, EXPLAIN and SHOW statements are allowed, got ${kw === '' ? 'no statement' : kw.toUpperCase()}`,
      );
    }
    this.readPool ??= makePool({ ...this.config, max: 1 }, true);
    let co: Checkout;
    try {
      co = await checkout(this.readPool);
    } catch (e) {
      throw wrapPg(e, this.location, 'query: cannot connect');
    }
    const c = co.c;
    try {
      await c.query('BEGIN READ ONLY');
      const r = await c.query({ text: sql, queryMode: 'extended' } as pg.QueryConfig);
      return r.rows.map((row: Record<string, unknown>) => plainRow(row));
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const msg = e instanceof Error ? e.message : String(e);
      if (code === '25006') throw readOnlyRefusal(msg);
      if (code === '42601' && /multiple commands/.test(msg)) throw readOnlyRefusal('run one statement at a time');
      throw new StorageError(`query failed: ${msg}`, sql, [], { cause: e });
    } finally {
      let broken = false;
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      co.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.end(), this.readPool?.end()]);
  }
}

/** A client taken from a pool, guarded while it is out (see checkout). */
interface Checkout {
  readonly c: pg.PoolClient;
  /** Back to the pool, or discarded when `broken` or when its connection failed while out. */
  release(broken: boolean): void;
}

/**
 * Take a client out of the pool with an 'error' listener for as long as it is out. The pool
 * listens on idle clients and pool.query on its own, but a client taken with connect() that
 * loses its connection (a server restart) emits 'error' with nobody listening, which would
 * crash the process. A client whose connection failed is discarded on release, never reused.
 */
async function checkout(pool: pg.Pool): Promise<Checkout> {
  const c = await pool.connect();
  let failed = false;
  const onError = (): void => {
    failed = true;
  };
  c.on('error', onError);
  return {
    c,
    release(broken: boolean): void {
      if (broken || failed) {
        // Keep listening: a discarded client may still report its dead socket.
        c.release(true);
        return;
      }
      c.removeListener('error', onError);
      c.release();
    },
  };
}

function makePool(config: pg.PoolConfig, readOnly: boolean): pg.Pool {
  const pool = new pg.Pool(config);
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  if (readOnly) {
    pool.on('connect', (client) => {
      client.query('SET default_transaction_read_only = on').catch(() => undefined);
    });
  }
  return pool;
}

/** The URL without its password, for messages and `location`. @throws StorageError if unparsable. */
export function redact(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StorageError(`bad PostgreSQL URL "${url.replace(/:[^:@/]*@/, ':***@')}" (expected postgres://user[:password]@host[:port]/database)`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new StorageError(`bad PostgreSQL URL: scheme must be postgres:// or postgresql://, got ${u.protocol}//`);
  }
  if (u.password !== '') u.password = '***';
  return u.toString();
}

const NET_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

/** Driver error -> one-line StorageError naming the server and the operation. */
function wrapPg(e: unknown, location: string, what: string, sql?: string, values?: readonly unknown[]): Error {
  if (e instanceof HpoError) return e;
  const err = e as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof err.code === 'string' ? err.code : undefined;
  let msg = typeof err.message === 'string' ? err.message : String(e);
  if (code !== undefined && NET_CODES[code] !== undefined) msg = `server unreachable (${NET_CODES[code]})`;
  else if (msg === '' && Array.isArray(err.errors)) msg = String((err.errors[0] as { message?: unknown })?.message ?? 'connection failed');
  else if (/timeout/i.test(msg) && /connect/i.test(msg)) msg = 'server unreachable (connection timed out)';
  else if (code === '25006') msg = `storage was opened read-only (${msg})`;
  else if (code === undefined && !(e instanceof Error && /Connection terminated|connect/i.test(msg))) {
    // Not from the server or the socket: a bug or a caller's newTrial; keep it as is.
    return e instanceof Error ? e : new Error(String(e));
  }
  return new StorageError(`postgres ${location}: ${what}: ${msg.split('\n')[0]}`, sql, values, { cause: e });
}
