/**
 * Pieces shared by the SQLite and PostgreSQL storages: row -> record mapping, argument
 * validation at the boundary, and result normalisation for `query`.
 */
import { ReadOnlyError } from '../errors.js';
import type { Params } from '../space/distribution.js';
import type { ClaimRequest, EnqueueItem, FinalState, FinishOutcome, HistoryQuery, HistoryRow, StudyRecord, StudySummary, TrialRecord, TrialState } from './storage.js';
import { TRIAL_STATES } from './storage.js';

/** A trials row as both drivers return it (timestamps already ISO strings). */
export interface TrialRow {
  id: number;
  study_id: number;
  number: number;
  state: string;
  params: string | Params;
  value: number | null;
  seed: number;
  epochs: number;
  attempt: number;
  bracket: number | null;
  owner: string | null;
  started_at: string | null;
  finished_at: string | null;
  heartbeat_at: string | null;
  error: string | null;
}

export interface StudyRow {
  id: number;
  name: string;
  objective: string;
  model: string | null;
  space: string | object;
  settings: string | object;
  seed: number;
  created_at: string;
}

const json = <T>(v: string | object): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export function toTrial(r: TrialRow): TrialRecord {
  return {
    id: Number(r.id),
    studyId: Number(r.study_id),
    number: Number(r.number),
    state: r.state as TrialState,
    params: json<Params>(r.params),
    value: r.value,
    seed: Number(r.seed),
    epochs: Number(r.epochs),
    attempt: Number(r.attempt),
    bracket: r.bracket === null ? null : Number(r.bracket),
    owner: r.owner,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    heartbeatAt: r.heartbeat_at,
    error: r.error,
  };
}

export function toStudy(r: StudyRow): StudyRecord {
  return {
    id: Number(r.id),
    name: r.name,
    objective: r.objective,
    model: r.model,
    space: json(r.space),
    settings: json(r.settings),
    seed: Number(r.seed),
    createdAt: r.created_at,
  };
}

/** A row of the history query; a row of its reports query. */
export interface HistoryDbRow {
  number: number;
  state: string;
  params: string | Params;
  value: number | null;
}
export interface HistoryReportRow {
  number: number;
  epoch: number;
  value: number;
}

/** Join the two history queries (both ascending by number) into HistoryRows. */
export function toHistory(rows: readonly HistoryDbRow[], reports: readonly HistoryReportRow[]): HistoryRow[] {
  const out: HistoryRow[] = [];
  let j = 0;
  for (const r of rows) {
    const n = Number(r.number);
    const reps: [number, number][] = [];
    while (j < reports.length && Number(reports[j]!.number) < n) j++;
    while (j < reports.length && Number(reports[j]!.number) === n) {
      reps.push([Number(reports[j]!.epoch), Number(reports[j]!.value)]);
      j++;
    }
    out.push({ number: n, state: r.state as TrialState, params: json<Params>(r.params), value: r.value === null ? null : Number(r.value), reports: reps });
  }
  return out;
}

export function checkEnqueue(params: Params): void {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new TypeError('enqueueTrial: params must be an object');
}

export function checkEnqueueItems(items: readonly EnqueueItem[]): void {
  if (!Array.isArray(items)) throw new TypeError('enqueueTrials: items must be an array');
  for (const it of items) {
    checkEnqueue(it?.params);
    if (it.key !== undefined && (typeof it.key !== 'string' || it.key === '')) throw new TypeError('enqueueTrials: a key must be a non-empty string');
  }
}

export function checkHistoryQuery(q: HistoryQuery): void {
  if (!Number.isSafeInteger(q.after) || q.after < 0) throw new RangeError(`trialHistory: after must be an integer >= 0, got ${q.after}`);
  for (const n of q.numbers ?? []) {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`trialHistory: trial numbers must be integers >= 1, got ${n}`);
  }
}

export function emptyCounts(): Record<TrialState, number> {
  const c = {} as Record<TrialState, number>;
  for (const s of TRIAL_STATES) c[s] = 0;
  return c;
}

/** Seeds are stored as 64-bit integers but must come back as exact JS numbers. */
export function checkSeed(seed: unknown, what: string): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || Math.abs(seed) > 2 ** 53) {
    throw new RangeError(`${what}: seed must be an integer with |seed| <= 2^53, got ${String(seed)}`);
  }
  return seed;
}

export function checkId(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${String(v)}`);
  }
  return v;
}

export function checkClaim(req: ClaimRequest): void {
  checkId(req.studyId, 'claimTrial: studyId');
  if (typeof req.maxTrials !== 'number' || !Number.isSafeInteger(req.maxTrials) || req.maxTrials < 0) {
    throw new RangeError(`claimTrial: maxTrials must be a non-negative integer, got ${String(req.maxTrials)}`);
  }
  if (typeof req.owner !== 'string' || req.owner === '') throw new TypeError('claimTrial: owner must be a non-empty string');
  if (typeof req.staleAfterMs !== 'number' || !(req.staleAfterMs >= 0)) {
    throw new RangeError(`claimTrial: staleAfterMs must be >= 0, got ${String(req.staleAfterMs)}`);
  }
  if (typeof req.newTrial !== 'function') throw new TypeError('claimTrial: newTrial must be a function');
  if (req.token !== undefined && (typeof req.token !== 'string' || req.token === '')) {
    throw new TypeError('claimTrial: token must be a non-empty string when given');
  }
}

export function checkCheckpoint(trialId: number, attempt: number, epoch: number, data: Uint8Array): void {
  checkId(trialId, 'saveCheckpoint: trialId');
  checkId(attempt, 'saveCheckpoint: attempt');
  checkId(epoch, 'saveCheckpoint: epoch');
  if (!(data instanceof Uint8Array)) throw new TypeError('saveCheckpoint: data must be a Uint8Array');
}

/** Validate what newTrial produced before it is written. */
export function checkNewTrial(
  t: { params: Params; seed: number; bracket: number | null },
  number: number,
): { params: string; seed: number; bracket: number | null } {
  if (t === null || typeof t !== 'object' || t.params === null || typeof t.params !== 'object') {
    throw new TypeError(`claimTrial: newTrial(${number}) must return { params, seed, bracket }`);
  }
  checkSeed(t.seed, `claimTrial: newTrial(${number})`);
  if (t.bracket !== null && !Number.isSafeInteger(t.bracket)) {
    throw new RangeError(`claimTrial: newTrial(${number}).bracket must be an integer or null, got ${String(t.bracket)}`);
  }
  return { params: JSON.stringify(t.params), seed: t.seed, bracket: t.bracket };
}

export function checkReport(trialId: number, attempt: number, epoch: number, value: number): void {
  checkId(trialId, 'recordReport: trialId');
  checkId(attempt, 'recordReport: attempt');
  checkId(epoch, 'recordReport: epoch');
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`recordReport: value must be a finite number, got ${String(value)}`);
  }
}

const FINAL: readonly FinalState[] = ['completed', 'pruned', 'failed', 'interrupted'];

export function checkFinish(trialId: number, attempt: number, outcome: FinishOutcome): void {
  checkId(trialId, 'finishTrial: trialId');
  checkId(attempt, 'finishTrial: attempt');
  if (!FINAL.includes(outcome.state)) {
    throw new RangeError(`finishTrial: state must be one of ${FINAL.join(', ')}, got ${String(outcome.state)}`);
  }
  if (outcome.value !== null && (typeof outcome.value !== 'number' || !Number.isFinite(outcome.value))) {
    throw new RangeError(`finishTrial: value must be a finite number or null, got ${String(outcome.value)}`);
  }
}

/** First keyword of a statement, after leading whitespace and comments, lower-cased. */
export function leadingKeyword(sql: string): string {
  const m = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*([A-Za-z]+)/.exec(sql);
  return (m?.[1] ?? '').toLowerCase();
}

export function readOnlyRefusal(detail: string): ReadOnlyError {
  return new ReadOnlyError(`hpo sql is read-only: ${detail}`);
}

/** BigInts that fit become numbers, bigger ones exact decimal strings: rows stay JSON-safe. */
export function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  return v;
}

export function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = plainValue(v);
  return out;
}

/** Stale-trial error text, also used in SQL via a parameter. */
export function staleReason(staleAfterMs: number): string {
  return `interrupted: no heartbeat for more than ${staleAfterMs} ms`;
}

export interface SummaryRow {
  id: number;
  name: string;
  objective: string;
  model: string | null;
  created_at: string;
  state: TrialState | null;
  n: number;
  best: number | null;
}

/** Fold (study, state) rows into one summary per study. */
export function summarize(rows: readonly SummaryRow[]): StudySummary[] {
  const out = new Map<number, { s: Omit<StudySummary, 'counts' | 'best'>; counts: Record<TrialState, number>; best: number | null }>();
  for (const r of rows) {
    const id = Number(r.id);
    let e = out.get(id);
    if (e === undefined) {
      e = { s: { id, name: r.name, objective: r.objective, model: r.model, createdAt: r.created_at }, counts: emptyCounts(), best: null };
      out.set(id, e);
    }
    if (r.state !== null && (TRIAL_STATES as readonly string[]).includes(r.state)) e.counts[r.state] = Number(r.n);
    if (r.best !== null) e.best = r.best;
  }
  return [...out.values()].map((e) => ({ ...e.s, counts: e.counts, best: e.best }));
}

