/**
 * The internal coordinates model-based samplers work in: log scale for log parameters,
 * integers widened to their rounding cells ([low - 0.5, high + 0.5], on the log scale too
 * for log ints), categoricals as choice indices.
 */
import type { Choice, Distribution } from '../space/distribution.js';

export type Dim =
  | {
      readonly kind: 'num';
      /** Internal bounds. */
      readonly lo: number;
      readonly hi: number;
      readonly log: boolean;
      readonly int: boolean;
      readonly dist: Distribution;
    }
  | { readonly kind: 'cat'; readonly k: number; readonly choices: readonly Choice[]; readonly dist: Distribution };

export function dimOf(d: Distribution): Dim {
  switch (d.type) {
    case 'uniform':
      return { kind: 'num', lo: d.low, hi: d.high, log: false, int: false, dist: d };
    case 'loguniform':
      return { kind: 'num', lo: Math.log(d.low), hi: Math.log(d.high), log: true, int: false, dist: d };
    case 'int': {
      const log = d.log === true;
      // low >= 1 for log ints, so low - 0.5 > 0.
      return log
        ? { kind: 'num', lo: Math.log(d.low - 0.5), hi: Math.log(d.high + 0.5), log, int: true, dist: d }
        : { kind: 'num', lo: d.low - 0.5, hi: d.high + 0.5, log, int: true, dist: d };
    }
    case 'categorical':
      return { kind: 'cat', k: d.choices.length, choices: d.choices, dist: d };
  }
}

/** Parameter value -> internal coordinate (NaN if the value does not belong to the dim). */
export function encode(dim: Dim, v: Choice): number {
  if (dim.kind === 'cat') {
    const i = dim.choices.indexOf(v);
    return i < 0 ? NaN : i;
  }
  if (typeof v !== 'number') return NaN;
  return dim.log ? Math.log(v) : v;
}

/** Internal coordinate -> a value of the distribution (rounded and clamped into range). */
export function decode(dim: Dim, x: number): Choice {
  if (dim.kind === 'cat') return dim.choices[Math.min(dim.k - 1, Math.max(0, Math.round(x)))]!;
  const d = dim.dist as { low: number; high: number };
  let v = dim.log ? Math.exp(x) : x;
  if (dim.int) v = Math.round(v);
  return Math.min(d.high, Math.max(d.low, v));
}

/** The internal rounding cell of an integer value (for interval probabilities). */
export function intCell(dim: Dim & { kind: 'num' }, v: number): [number, number] {
  return dim.log ? [Math.log(v - 0.5), Math.log(v + 0.5)] : [v - 0.5, v + 0.5];
}
