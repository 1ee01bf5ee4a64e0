/** What every chart of the report produces, and helpers shared by several charts. */
import type { TrialRecord } from '../storage/storage.js';

export interface Chart {
  /** Stable id: the figure's data-chart attribute (tests look for it). */
  readonly id: string;
  readonly title: string;
  /** One or two sentences under the chart saying what it shows and how it was derived. */
  readonly caption: string;
  readonly svg: string;
}

/** Time since the study's first trial started, in a unit that suits the span. */
export interface TimeAxis {
  readonly t0: number;
  readonly unit: 's' | 'min' | 'h';
  readonly div: number;
}

export function timeAxis(t0: number, spanMs: number): TimeAxis {
  if (spanMs >= 3 * 3600_000) return { t0, unit: 'h', div: 3600_000 };
  if (spanMs >= 3 * 60_000) return { t0, unit: 'min', div: 60_000 };
  return { t0, unit: 's', div: 1000 };
}

export const ms = (iso: string | null): number => (iso === null ? NaN : Date.parse(iso));

/**
 * Every trial with a value, ranked: rank 0 is the best (lowest value, ties by number).
 * Colours follow ranks rather than raw values, so one diverged trial does not wash the
 * scale out.
 */
export function valueRanks(trials: readonly TrialRecord[]): Map<number, number> {
  const withValue = trials.filter((t) => t.value !== null).sort((a, b) => a.value! - b.value! || a.number - b.number);
  const out = new Map<number, number>();
  const n = Math.max(1, withValue.length - 1);
  withValue.forEach((t, i) => out.set(t.number, i / n));
  return out;
}

/**
 * At most `max` trials for the per-trial charts of huge studies: all when there are few;
 * else the best quarter of the budget by value, then evenly spaced trials (by number) from
 * the rest. Deterministic, so successive live reports do not flicker.
 */
export function sampleTrials(trials: readonly TrialRecord[], max: number): TrialRecord[] {
  if (trials.length <= max) return [...trials];
  const byValue = trials.filter((t) => t.value !== null).sort((a, b) => a.value! - b.value! || a.number - b.number);
  const keep = new Set(byValue.slice(0, Math.floor(max / 4)).map((t) => t.number));
  const rest = trials.filter((t) => !keep.has(t.number));
  const need = max - keep.size;
  for (let i = 0; i < need; i++) keep.add(rest[Math.floor((i * rest.length) / need)]!.number);
  return trials.filter((t) => keep.has(t.number));
}

/** Number formatting for tooltips and tables. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  return String(v);
}

export function fmtParams(p: Readonly<Record<string, unknown>>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${fmt(v)}`)
    .join(', ');
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
