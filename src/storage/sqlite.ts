import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { HpoError, StorageError } from '../errors.js';
import type { Params } from '../space/distribution.js';
import { migrateSqlite } from './migrations.js';
import {
  checkCheckpoint,
  checkClaim,
  checkEnqueue,
  checkEnqueueItems,
  checkFinish,
  checkId,
  checkNewTrial,
  checkReport,
  checkHistoryQuery,
  checkSeed,
  type HistoryDbRow,
  type HistoryReportRow,
  toHistory,
  emptyCounts,
  plainRow,
  readOnlyRefusal,
  staleReason,
  summarize,
  type SummaryRow,
  toStudy,
  toTrial,
  type StudyRow,
  type TrialRow,
} from './records.js';
import type {
  Checkpoint,
  ClaimRequest,
  EnqueueItem,
  EnqueueResult,
  EpochReport,
  FinishOutcome,
  RungResult,
  FinalState,
  HistoryQuery,
  HistoryRow,
  Storage,
  StudyRecord,
  StudySpec,
  StudySummary,
  TrialRecord,
  TrialState,
} from './storage.js';
import { TERMINAL_STATES } from './storage.js';

/** ISO-8601 UTC with milliseconds: sorts as text, same shape as Date#toISOString. */
const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

/** How long a writer waits for another process's transaction before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 30_000;

export interface SqliteOptions {
  /** Open without writing anything (no migration, no journal-mode change). Default false. */
  readonly readOnly?: boolean;
  /** Default SQLITE_BUSY_TIMEOUT_MS. */
  readonly busyTimeoutMs?: number;
}

type Stmt = Database.Statement<unknown[], unknown>;

/**
 * Storage in one SQLite file, shareable by several processes on one machine (WAL mode).
 * Every write that spans statements runs in a BEGIN IMMEDIATE transaction so the write lock
 * is taken up front and waits (busy_timeout) instead of failing with SQLITE_BUSY.
 * The async methods wrap synchronous better-sqlite3 calls.
 */
export class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly readOnly: boolean;
  private readonly db: Database.Database;
  private readDb: Database.Database | undefined;
  private readonly stmts: Record<string, Stmt> = {};
  private closed = false;

  private constructor(db: Database.Database, location: string, readOnly: boolean) {
    this.db = db;
    this.location = location;
    this.readOnly = readOnly;
  }

  /**
   * Open (creating if needed, unless readOnly) and migrate the database at `path`.
   * @throws StorageError when the directory is missing, the file is not a SQLite database,
   *   is from a newer release, or (readOnly) does not exist.
   */
  static open(path: string, opts: SqliteOptions = {}): SqliteStorage {
    const readOnly = opts.readOnly ?? false;
    if (path === '') throw new StorageError('sqlite: empty database path');
    const location = path === ':memory:' ? path : resolve(path);
    if (location !== ':memory:') {
      const dir = dirname(location);
      if (!existsSync(dir)) throw new StorageError(`sqlite: directory ${dir} does not exist (for database ${location})`);
      if (existsSync(location) && statSync(location).isDirectory()) {
        throw new StorageError(`sqlite: ${location} is a directory, not a database file`);
      }
      if (readOnly && !existsSync(location)) throw new StorageError(`sqlite: no database at ${location}`);
    }
    let db: Database.Database;
    try {
      db = new Database(location, { readonly: readOnly, fileMustExist: readOnly });
    } catch (e) {
      throw wrap(e, location, 'cannot open', undefined, true);
    }
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS))}`);
      // Reading the schema first turns "not a database" into an error here, not later.
      db.pragma('user_version', { simple: true });
      if (!readOnly) {
        if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal' && location !== ':memory:') {
          db.pragma('journal_mode = WAL');
        }
        // NORMAL: a commit does not wait for fsync (FULL costs ~7 ms per commit here, on the
        // main thread); durability comes from syncToDisk() at every heartbeat instead.
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('foreign_keys = ON');
      migrateSqlite(db, `sqlite ${location}`, readOnly);
      const s = new SqliteStorage(db, location, readOnly);
      s.prepareAll();
      return s;
    } catch (e) {
      db.close();
      throw wrap(e, location, 'cannot open', undefined, true);
    }
  }

  private prepareAll(): void {
    const sql: Record<string, string> = {
      insertStudy: `INSERT INTO studies (name, objective, model, space, settings, seed) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (name) DO NOTHING RETURNING *`,
      studyByName: `SELECT * FROM studies WHERE name = ?`,
      studyExists: `SELECT 1 FROM studies WHERE id = ?`,
      listStudies: `SELECT s.id, s.name, s.objective, s.model, s.created_at, t.state, count(t.id) AS n,
                           min(CASE WHEN t.state = 'completed' THEN t.value END) AS best
                      FROM studies s LEFT JOIN trials t ON t.study_id = s.id
                     GROUP BY s.id, t.state ORDER BY s.id`,
      interruptStale: `UPDATE trials SET state = 'interrupted', error = ? || ' (owner ' || coalesce(owner, '?') || ')'
                        WHERE study_id = ? AND state = 'running' AND owner IS NOT ?
                          AND (heartbeat_at IS NULL OR (julianday('now') - julianday(heartbeat_at)) * 86400000.0 > ?)`,
      firstInterrupted: `SELECT id FROM trials WHERE study_id = ? AND state = 'interrupted' ORDER BY number LIMIT 1`,
      byToken: `SELECT * FROM trials WHERE study_id = ? AND claim_token = ? AND owner = ? AND state = 'running'`,
      checkpointEpoch: `SELECT epoch FROM checkpoints WHERE trial_id = ?`,
      // Reports up to the checkpoint stay: the resumed attempt continues after that epoch.
      deleteReportsAfter: `DELETE FROM reports WHERE trial_id = ? AND epoch > ?`,
      reclaim: `UPDATE trials SET state = 'running', attempt = attempt + 1, owner = ?, value = NULL, epochs = ?,
                       error = NULL, started_at = ${NOW}, heartbeat_at = ${NOW}, finished_at = NULL, claim_token = ?
                 WHERE id = ? RETURNING *`,
      // Numbers are dense (1..max), so max(number) is the trial count, read from the unique index.
      maxNumber: `SELECT number AS n FROM trials WHERE study_id = ? ORDER BY number DESC LIMIT 1`,
      insertTrial: `INSERT INTO trials (study_id, number, state, params, seed, bracket, owner, started_at, heartbeat_at, claim_token)
                    VALUES (?, ?, 'running', ?, ?, ?, ?, ${NOW}, ${NOW}, ?) RETURNING *`,
      touchForReport: `UPDATE trials SET epochs = max(epochs, ?), heartbeat_at = ${NOW}
                        WHERE id = ? AND state = 'running' AND attempt = ?`,
      upsertReport: `INSERT INTO reports (trial_id, epoch, value) VALUES (?, ?, ?)
                     ON CONFLICT (trial_id, epoch) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`,
      finish: `UPDATE trials SET state = ?, value = ?, error = ?, heartbeat_at = ${NOW},
                      finished_at = CASE WHEN ? THEN ${NOW} ELSE NULL END
                WHERE id = ? AND state = 'running' AND attempt = ?`,
      ownsRunning: `SELECT 1 FROM trials WHERE id = ? AND state = 'running' AND attempt = ?`,
      saveCheckpoint: `INSERT INTO checkpoints (trial_id, epoch, data) VALUES (?, ?, ?)
                       ON CONFLICT (trial_id) DO UPDATE SET epoch = excluded.epoch, data = excluded.data, created_at = excluded.created_at`,
      loadCheckpoint: `SELECT epoch, data FROM checkpoints WHERE trial_id = ?`,
      deleteCheckpoint: `DELETE FROM checkpoints WHERE trial_id = ?`,
      heartbeat: `UPDATE trials SET heartbeat_at = ${NOW}
                   WHERE owner = ? AND state = 'running' AND id IN (SELECT value FROM json_each(?))`,
      interruptOwners: `UPDATE trials SET state = 'interrupted', error = ?
                         WHERE study_id = ? AND state = 'running' AND owner IN (SELECT value FROM json_each(?))`,
      runningOwners: `SELECT DISTINCT owner FROM trials WHERE study_id = ? AND state = 'running' AND owner IS NOT NULL ORDER BY owner`,
      trials: `SELECT * FROM trials WHERE study_id = ? ORDER BY number`,
      trialsIn: `SELECT * FROM trials WHERE study_id = ? AND state IN (SELECT value FROM json_each(?)) ORDER BY number`,
      reports: `SELECT r.trial_id, t.number, r.epoch, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
                 WHERE t.study_id = ? ORDER BY t.number, r.epoch`,
      reportsOf: `SELECT r.trial_id, t.number, r.epoch, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
                   WHERE t.study_id = ? AND r.trial_id = ? ORDER BY r.epoch`,
      rung: `SELECT t.number, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
              WHERE t.study_id = ? AND r.epoch = ? ORDER BY r.value, t.number`,
      rungBracket: `SELECT t.number, r.value FROM reports r JOIN trials t ON t.id = r.trial_id
                     WHERE t.study_id = ? AND r.epoch = ? AND t.bracket = ? ORDER BY r.value, t.number`,
      enqueue: `INSERT INTO enqueued (study_id, params) VALUES (?, ?)`,
      queueCount: `SELECT count(*) AS n FROM enqueued WHERE study_id = ?`,
      queueAll: `SELECT params FROM enqueued WHERE study_id = ? ORDER BY id`,
      queueHead: `SELECT id, params FROM enqueued WHERE study_id = ? ORDER BY id LIMIT 1`,
      queuePop: `DELETE FROM enqueued WHERE id = ?`,
      enqueueKey: `INSERT INTO enqueue_keys (study_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING`,
      history: `SELECT number, state, params, value FROM trials
                 WHERE study_id = ? AND (number > ? OR number IN (SELECT value FROM json_each(?))) ORDER BY number`,
      historyReports: `SELECT t.number, r.epoch, r.value FROM trials t JOIN reports r ON r.trial_id = t.id
                        WHERE t.study_id = ? AND (t.number > ? OR t.number IN (SELECT value FROM json_each(?)))
                        ORDER BY t.number, r.epoch`,
      best: `SELECT * FROM trials WHERE study_id = ? AND state = 'completed' AND value IS NOT NULL
              ORDER BY value, number LIMIT 1`,
      counts: `SELECT state, count(*) AS n FROM trials WHERE study_id = ? GROUP BY state`,
    };
    for (const [k, text] of Object.entries(sql)) {
      try {
        this.stmts[k] = this.db.prepare(text);
      } catch (e) {
        throw wrap(e, this.location, 'cannot prepare statements', text, true);
      }
    }
  }

  /** Inside a transaction: throws StorageError when no study has this id. */
  private requireStudy(studyId: number): void {
    if (this.st('studyExists').get(studyId) === undefined) throw new StorageError(`sqlite ${this.location}: no study with id ${studyId}`);
  }

  private st(name: string): Stmt {
    if (this.closed) throw new StorageError(`sqlite ${this.location}: storage is closed`);
    const s = this.stmts[name];
    if (s === undefined) throw new Error(`bug: no statement ${name}`);
    return s;
  }

  /** Run `fn` synchronously, mapping driver errors to StorageError with context. */
  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw wrap(e, this.location, what);
    }
  }

  async createStudy(spec: StudySpec): Promise<{ study: StudyRecord; created: boolean }> {
    checkSeed(spec.seed, 'createStudy');
    if (typeof spec.name !== 'string' || spec.name === '') throw new TypeError('createStudy: name must be a non-empty string');
    const r = this.run(`createStudy ${spec.name}`, () =>
      this.db
        .transaction(() => {
          const row = this.st('insertStudy').get(
            spec.name,
            spec.objective,
            spec.model,
            JSON.stringify(spec.space),
            JSON.stringify(spec.settings),
            spec.seed,
          ) as StudyRow | undefined;
          if (row !== undefined) return { study: toStudy(row), created: true };
          const existing = this.st('studyByName').get(spec.name) as StudyRow;
          return { study: toStudy(existing), created: false };
        })
        .immediate(),
    );
    // A new study (and the schema before it) is durable at once, not at the first heartbeat.
    if (r.created) this.run(`createStudy ${spec.name}`, () => this.syncToDisk());
    return r;
  }

  async getStudy(name: string): Promise<StudyRecord | undefined> {
    return this.run(`getStudy ${name}`, () => {
      const row = this.st('studyByName').get(name) as StudyRow | undefined;
      return row === undefined ? undefined : toStudy(row);
    });
  }

  async listStudies(): Promise<StudySummary[]> {
    return this.run('listStudies', () =>
      summarize(
        this.st('listStudies').all() as SummaryRow[],
      ),
    );
  }

  async claimTrial(req: ClaimRequest): Promise<TrialRecord | null> {
    checkClaim(req);
    return this.run(`claimTrial study ${req.studyId}`, () =>
      this.db
        .transaction((): TrialRecord | null => {
          this.requireStudy(req.studyId);
          const token = req.token ?? null;
          if (token !== null) {
            const mine = this.st('byToken').get(req.studyId, token, req.owner) as TrialRow | undefined;
            if (mine !== undefined) return toTrial(mine);
          }
          this.st('interruptStale').run(staleReason(req.staleAfterMs), req.studyId, req.owner, req.staleAfterMs);
          const again = this.st('firstInterrupted').get(req.studyId) as { id: number } | undefined;
          if (again !== undefined) {
            const cp = (this.st('checkpointEpoch').get(again.id) as { epoch: number } | undefined)?.epoch ?? 0;
            this.st('deleteReportsAfter').run(again.id, cp);
            return toTrial(this.st('reclaim').get(req.owner, cp, token, again.id) as TrialRow);
          }
          const n = (this.st('maxNumber').get(req.studyId) as { n: number } | undefined)?.n ?? 0;
          if (n >= req.maxTrials) return null;
          const number = n + 1;
          const head = this.st('queueHead').get(req.studyId) as { id: number; params: string } | undefined;
          if (head !== undefined) this.st('queuePop').run(head.id);
          const t = checkNewTrial(head === undefined ? req.newTrial(number) : req.newTrial(number, JSON.parse(head.params) as Params), number);
          return toTrial(
            this.st('insertTrial').get(req.studyId, number, t.params, t.seed, t.bracket, req.owner, token) as TrialRow,
          );
        })
        .immediate(),
    );
  }

  async enqueueTrial(studyId: number, params: Params): Promise<number> {
    checkEnqueue(params);
    return this.run(`enqueueTrial study ${studyId}`, () =>
      this.db
        .transaction(() => {
          this.requireStudy(studyId);
          this.st('enqueue').run(studyId, JSON.stringify(params));
          return (this.st('queueCount').get(studyId) as { n: number }).n;
        })
        .immediate(),
    );
  }

  async enqueueTrials(studyId: number, items: readonly EnqueueItem[]): Promise<EnqueueResult> {
    checkEnqueueItems(items);
    return this.run(`enqueueTrials study ${studyId}`, () =>
      this.db
        .transaction(() => {
          this.requireStudy(studyId);
          let added = 0;
          for (const it of items) {
            // A key seen before: queued by an earlier call, skip.
            if (it.key !== undefined && this.st('enqueueKey').run(studyId, it.key).changes === 0) continue;
            this.st('enqueue').run(studyId, JSON.stringify(it.params));
            added++;
          }
          const waiting = (this.st('queueCount').get(studyId) as { n: number }).n;
          return { added, skipped: items.length - added, waiting };
        })
        .immediate(),
    );
  }

  async enqueuedTrials(studyId: number): Promise<Params[]> {
    return this.run(`enqueuedTrials study ${studyId}`, () =>
      (this.st('queueAll').all(studyId) as { params: string }[]).map((r) => JSON.parse(r.params) as Params),
    );
  }

  async recordReport(trialId: number, attempt: number, epoch: number, value: number): Promise<boolean> {
    checkReport(trialId, attempt, epoch, value);
    return this.run(`recordReport trial ${trialId} epoch ${epoch}`, () =>
      this.db
        .transaction(() => {
          if (this.st('touchForReport').run(epoch, trialId, attempt).changes === 0) return false;
          this.st('upsertReport').run(trialId, epoch, value);
          return true;
        })
        .immediate(),
    );
  }

  async finishTrial(trialId: number, attempt: number, outcome: FinishOutcome): Promise<boolean> {
    checkFinish(trialId, attempt, outcome);
    const terminal = (TERMINAL_STATES as readonly string[]).includes(outcome.state) ? 1 : 0;
    return this.run(`finishTrial trial ${trialId}`, () =>
      this.db
        .transaction(() => {
          const r = this.st('finish').run(outcome.state, outcome.value, outcome.error ?? null, terminal, trialId, attempt);
          if (r.changes > 0 && terminal && outcome.keepCheckpoint !== true) this.st('deleteCheckpoint').run(trialId);
          return r.changes > 0;
        })
        .immediate(),
    );
  }

  async saveCheckpoint(trialId: number, attempt: number, epoch: number, data: Uint8Array): Promise<boolean> {
    checkCheckpoint(trialId, attempt, epoch, data);
    return this.run(`saveCheckpoint trial ${trialId} epoch ${epoch}`, () =>
      this.db
        .transaction(() => {
          if (this.st('ownsRunning').get(trialId, attempt) === undefined) return false;
          this.st('saveCheckpoint').run(trialId, epoch, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
          return true;
        })
        .immediate(),
    );
  }

  async loadCheckpoint(trialId: number): Promise<Checkpoint | undefined> {
    return this.run(`loadCheckpoint trial ${trialId}`, () => {
      const r = this.st('loadCheckpoint').get(trialId) as { epoch: number; data: Buffer } | undefined;
      return r === undefined ? undefined : { epoch: r.epoch, data: new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength) };
    });
  }

  async heartbeat(owner: string, trialIds: readonly number[]): Promise<void> {
    if (trialIds.length === 0) return;
    return this.run(`heartbeat ${owner}`, () => {
      this.st('heartbeat').run(owner, JSON.stringify(trialIds));
      this.syncToDisk();
    });
  }

  /**
   * Make everything committed so far durable: a passive WAL checkpoint fsyncs the WAL first.
   * In WAL mode with synchronous=NORMAL, commits since the last sync survive a process
   * crash but not an OS crash or a file system that fails (e.g. ext4 remounting itself
   * read-only after an I/O error discards unsynced pages): at each heartbeat this bounds
   * that loss to one heartbeat period of work, which resume then simply re-runs.
   */
  private syncToDisk(): void {
    if (this.readOnly || this.location === ':memory:') return;
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  async interruptOwners(studyId: number, owners: readonly string[], reason: string): Promise<number> {
    if (owners.length === 0) return 0;
    return this.run(`interruptOwners study ${studyId}`, () => this.st('interruptOwners').run(reason, studyId, JSON.stringify(owners)).changes);
  }

  async runningOwners(studyId: number): Promise<string[]> {
    return this.run(`runningOwners study ${studyId}`, () =>
      (this.st('runningOwners').all(studyId) as { owner: string }[]).map((r) => r.owner),
    );
  }

  async getTrials(studyId: number, opts?: { states?: readonly TrialState[] }): Promise<TrialRecord[]> {
    return this.run(`getTrials study ${studyId}`, () => {
      const rows =
        opts?.states === undefined
          ? this.st('trials').all(studyId)
          : this.st('trialsIn').all(studyId, JSON.stringify(opts.states));
      return (rows as TrialRow[]).map(toTrial);
    });
  }

  async getReports(studyId: number, opts?: { trialId?: number }): Promise<EpochReport[]> {
    return this.run(`getReports study ${studyId}`, () => {
      const rows =
        opts?.trialId === undefined ? this.st('reports').all(studyId) : this.st('reportsOf').all(studyId, opts.trialId);
      return (rows as { trial_id: number; number: number; epoch: number; value: number }[]).map((r) => ({
        trialId: r.trial_id,
        trialNumber: r.number,
        epoch: r.epoch,
        value: r.value,
      }));
    });
  }

  async rungResults(studyId: number, epoch: number, bracket?: number | null): Promise<RungResult[]> {
    return this.run(`rungResults study ${studyId} epoch ${epoch}`, () => {
      // null / undefined: every trial of the study (what RungStore asks for).
      const rows =
        bracket == null ? this.st('rung').all(studyId, epoch) : this.st('rungBracket').all(studyId, epoch, bracket);
      return (rows as { number: number; value: number }[]).map((r) => ({ trialNumber: r.number, value: r.value }));
    });
  }

  async trialHistory(studyId: number, q: HistoryQuery): Promise<HistoryRow[]> {
    checkHistoryQuery(q);
    return this.run(`trialHistory study ${studyId}`, () => {
      const nums = JSON.stringify(q.numbers ?? []);
      const rows = this.st('history').all(studyId, q.after, nums) as HistoryDbRow[];
      const reports = q.reports === true ? (this.st('historyReports').all(studyId, q.after, nums) as HistoryReportRow[]) : [];
      return toHistory(rows, reports);
    });
  }

  async bestTrial(studyId: number): Promise<TrialRecord | undefined> {
    return this.run(`bestTrial study ${studyId}`, () => {
      const row = this.st('best').get(studyId) as TrialRow | undefined;
      return row === undefined ? undefined : toTrial(row);
    });
  }

  async stateCounts(studyId: number): Promise<Record<TrialState, number>> {
    return this.run(`stateCounts study ${studyId}`, () => {
      const c = emptyCounts();
      for (const r of this.st('counts').all(studyId) as { state: TrialState; n: number }[]) c[r.state] = r.n;
      return c;
    });
  }

  /**
   * Run one statement on a separate read-only connection. Rejected before running unless
   * SQLite itself classes it as a read-only statement that returns rows.
   * @throws ReadOnlyError for writes and multiple statements; StorageError for SQL errors.
   */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    if (this.closed) throw new StorageError(`sqlite ${this.location}: storage is closed`);
    try {
      if (this.readDb === undefined) {
        // A memory database has no second connection; the statement checks below still hold.
        this.readDb =
          this.location === ':memory:' ? this.db : new Database(this.location, { readonly: true, fileMustExist: true });
        this.readDb.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      }
      let stmt: Stmt;
      try {
        stmt = this.readDb.prepare(sql);
      } catch (e) {
        if (e instanceof RangeError && /more than one statement/.test(e.message)) {
          throw readOnlyRefusal('run one statement at a time');
        }
        throw e;
      }
      // reader: returns rows; readonly: SQLite's own verdict that it cannot write.
      if (!stmt.reader || !stmt.readonly) throw readOnlyRefusal(`this statement could modify the database: ${oneLine(sql)}`);
      stmt.safeIntegers(true);
      return (stmt.all() as Record<string, unknown>[]).map(plainRow);
    } catch (e) {
      if (e instanceof HpoError) throw e;
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) throw readOnlyRefusal(errText(e));
      throw new StorageError(`query failed: ${errText(e)}`, sql, [], { cause: e });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.readDb !== undefined && this.readDb !== this.db) this.readDb.close();
    this.db.close();
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] ?? e.name : String(e);
}

function oneLine(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Driver error -> StorageError naming the file and what was being done. HpoErrors pass
 * through; so do other errors (e.g. thrown by a caller's newTrial) unless `always`.
 */
function wrap(e: unknown, location: string, what: string, sql?: string, always = false): Error {
  if (e instanceof HpoError) return e;
  const code = (e as { code?: unknown }).code;
  const fromSqlite = e instanceof Database.SqliteError || (typeof code === 'string' && code.startsWith('SQLITE_'));
  if (!fromSqlite && !always) return e instanceof Error ? e : new Error(String(e));
  let msg = errText(e);
  if (code === 'SQLITE_NOTADB') msg = 'file is not a SQLite database';
  else if (code === 'SQLITE_BUSY') msg = `database is locked (waited ${SQLITE_BUSY_TIMEOUT_MS} ms for another process)`;
  else if (code === 'SQLITE_CANTOPEN') msg = 'cannot open the database file (check the path and permissions)';
  else if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) msg = `database is read-only (${msg})`;
  return new StorageError(`sqlite ${location}: ${what}: ${msg}`, sql, undefined, { cause: e });
}
