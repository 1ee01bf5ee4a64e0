/**
 * What a report shows, gathered through the Storage interface only (no SQL here): the
 * study, its trials and every epoch report, plus the scheduler's rungs.
 */
import { UsageError } from '../errors.js';
import { rungLadder } from '../schedulers/rungs.js';
import type { EpochReport, Storage, StudyRecord, TrialRecord } from '../storage/storage.js';

export interface ReportData {
  readonly study: StudyRecord;
  readonly trials: readonly TrialRecord[];
  /** Epoch reports grouped by trial number, ascending by epoch. */
  readonly curves: ReadonlyMap<number, readonly EpochReport[]>;
  /** Rung epochs of an early-stopping scheduler; empty for fifo. */
  readonly rungs: readonly number[];
  readonly scheduler: string;
  /** What the value is: "validation error" for the built-in objective, else "objective value". */
  readonly valueLabel: string;
  /** When the data was read (ISO-8601 UTC): running trials are drawn up to this instant. */
  readonly generatedAt: string;
}

/** The rungs the study's scheduler settings imply (none for fifo or unknown settings). */
export function studyRungs(settings: Readonly<Record<string, unknown>>): number[] {
  const scheduler = settings['scheduler'];
  const maxEpochs = settings['epochs'];
  const minEpochs = settings['minEpochs'];
  const eta = settings['eta'];
  if (scheduler === 'fifo' || scheduler === undefined) return [];
  const ok = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;
  if (!ok(maxEpochs, 1) || !ok(minEpochs, 1) || !ok(eta, 2) || minEpochs > maxEpochs) return [];
  return rungLadder(minEpochs, maxEpochs, eta);
}

/**
 * Read everything a report of `studyName` needs.
 * @throws UsageError if the storage has no such study.
 */
export async function gatherReportData(storage: Storage, studyName: string, now: Date = new Date()): Promise<ReportData> {
  const study = await storage.getStudy(studyName);
  if (!study) throw new UsageError(`no study "${studyName}" in ${storage.location}`);
  const trials = await storage.getTrials(study.id);
  const reports = await storage.getReports(study.id);
  const curves = new Map<number, EpochReport[]>();
  for (const r of reports) {
    let c = curves.get(r.trialNumber);
    if (c === undefined) curves.set(r.trialNumber, (c = []));
    c.push(r);
  }
  for (const c of curves.values()) c.sort((a, b) => a.epoch - b.epoch);
  return {
    study,
    trials: [...trials].sort((a, b) => a.number - b.number),
    curves,
    rungs: studyRungs(study.settings),
    scheduler: typeof study.settings['scheduler'] === 'string' ? study.settings['scheduler'] : 'fifo',
    // Only the built-in objective has a model, and its value is the validation error.
    valueLabel: study.model !== null ? 'validation error' : 'objective value',
    generatedAt: now.toISOString(),
  };
}
