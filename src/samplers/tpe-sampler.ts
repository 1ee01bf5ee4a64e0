/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011), over the history read from
 * storage. After `nStartup` finished trials, the scored trials are split by a quantile
 * into good (the best gamma(n)) and bad (the rest, plus pruned and running trials); each
 * group gets a Parzen estimator and the candidate, drawn from the good one, with the
 * highest good/bad density ratio wins.
 *
 * Univariate mode models every parameter on its own; multivariate mode models the
 * parameters that become active together as one joint estimator (Falkner et al.'s BOHB
 * kernel), which captures interactions. Conditional parameters are modelled only from the
 * trials where they were active.
 */
import { FastRng, deriveSeed } from '../random.js';
import { isActive, type Params, type SearchSpace } from '../space/distribution.js';
import { decode, dimOf, encode, type Dim } from './encoding.js';
import { EMPTY_HISTORY, type History } from './history.js';
import { ParzenEstimator } from './parzen.js';
import { RandomSampler, sampleOne } from './random-sampler.js';
import { Rng } from '../random.js';
import type { Sampler } from './sampler.js';
import { finishedCount, scoreHistory, type ScoredTrial } from './scoring.js';

export interface TpeOptions {
  /** Joint estimators per group of co-active parameters. Default false. */
  readonly multivariate?: boolean;
  /** Random trials before the model takes over (finished trials). Default 10. */
  readonly nStartup?: number;
  /** Candidates drawn from the good estimator per parameter group. Default 24. */
  readonly nCandidates?: number;
  /** Weight of the prior component. Default 1. */
  readonly priorWeight?: number;
  /** Size of the good group for n scored trials. Default min(ceil(0.1 n), 25). */
  readonly gamma?: (n: number) => number;
  /** Model from rung results (multi-fidelity schedulers). Default false. */
  readonly fidelity?: boolean;
  /** With fidelity: results an epoch needs before it is modelled. Default 10. */
  readonly minPerRung?: number;
  /** The bad group keeps at most this many trials (the most recent). Default 1000. */
  readonly maxBad?: number;
}

export const defaultGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25);

/**
 * Observation weights by age: flat for the 25 most recent, a linear ramp from 1/n up to 1
 * for older ones, so an old region of the search is slowly forgotten.
 */
export function ageWeights(n: number): number[] {
  if (n <= 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out = new Array<number>(n);
  for (let i = 0; i < ramp; i++) out[i] = ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1);
  for (let i = ramp; i < n; i++) out[i] = 1;
  return out;
}

export class TpeSampler implements Sampler {
  readonly name: string;
  readonly needs;
  private readonly o: Required<Omit<TpeOptions, 'gamma'>> & { gamma: (n: number) => number };
  private readonly random = new RandomSampler();

  constructor(opts: TpeOptions = {}) {
    this.o = {
      multivariate: opts.multivariate ?? false,
      nStartup: opts.nStartup ?? 10,
      nCandidates: opts.nCandidates ?? 24,
      priorWeight: opts.priorWeight ?? 1,
      gamma: opts.gamma ?? defaultGamma,
      fidelity: opts.fidelity ?? false,
      minPerRung: opts.minPerRung ?? 10,
      maxBad: opts.maxBad ?? 1000,
    };
    this.name = this.o.multivariate ? 'tpe-multivariate' : 'tpe';
    this.needs = this.o.fidelity ? ('reports' as const) : ('trials' as const);
  }

  sample(space: SearchSpace, studySeed: number, trialNumber: number, history: History = EMPTY_HISTORY): Params {
    if (finishedCount(history) < this.o.nStartup) return this.random.sample(space, studySeed, trialNumber);
    const { scored, bad } = scoreHistory(history, { fidelity: this.o.fidelity, minPerRung: this.o.minPerRung });
    const names = Object.keys(space);
    const out: Params = {};
    const decided = new Set<string>();
    for (;;) {
      // Next group: undecided parameters whose parents are all decided. Univariate: the first one.
      const ready = names.filter((n) => !decided.has(n) && Object.keys(space[n]!.when ?? {}).every((p) => decided.has(p)));
      if (ready.length === 0) break;
      const group = this.o.multivariate ? ready : ready.slice(0, 1);
      for (const n of group) decided.add(n);
      const active = group.filter((n) => isActive(space[n]!, out));
      if (active.length === 0) continue;
      Object.assign(out, this.sampleGroup(space, active, scored, bad, deriveSeed(studySeed, 'tpe', trialNumber, active.join(','))));
      // Parameters left without a value (no observations yet) fall back to random draws.
      for (const n of active) {
        if (out[n] === undefined) out[n] = sampleOne(space[n]!, new Rng(deriveSeed(studySeed, 'param', trialNumber, n)));
      }
    }
    return out;
  }

  private sampleGroup(
    space: SearchSpace,
    group: readonly string[],
    scored: readonly ScoredTrial[],
    bad: readonly { number: number; params: Params }[],
    seed: number,
  ): Params {
    const dims: Dim[] = group.map((n) => dimOf(space[n]!));
    const enc = (p: Params): number[] | null => {
      const row: number[] = [];
      for (let j = 0; j < group.length; j++) {
        const v = p[group[j]!];
        if (v === undefined) return null;
        const x = encode(dims[j]!, v);
        if (Number.isNaN(x)) return null;
        row.push(x);
      }
      return row;
    };
    const good: { number: number; x: number[]; score: number }[] = [];
    for (const t of scored) {
      const x = enc(t.params);
      if (x) good.push({ number: t.number, x, score: t.score });
    }
    if (good.length === 0) return {};
    // Best first; ties by number, so the split does not depend on read order.
    const ranked = [...good].sort((a, b) => a.score - b.score || a.number - b.number);
    const nGood = Math.max(1, Math.min(ranked.length, this.o.gamma(ranked.length)));
    const below = ranked.slice(0, nGood).sort((a, b) => a.number - b.number);
    const above: { number: number; x: number[] }[] = ranked.slice(nGood);
    for (const t of bad) {
      const x = enc(t.params);
      if (x) above.push({ number: t.number, x });
    }
    above.sort((a, b) => a.number - b.number);
    const aboveKept = above.length > this.o.maxBad ? above.slice(above.length - this.o.maxBad) : above;
    const opts = { priorWeight: this.o.priorWeight, multivariate: this.o.multivariate };
    const l = new ParzenEstimator(dims, below.map((t) => t.x), ageWeights(below.length), opts);
    const g = new ParzenEstimator(dims, aboveKept.map((t) => t.x), ageWeights(aboveKept.length), opts);
    const rng = new FastRng(seed);
    let best: number[] | null = null;
    let bestScore = -Infinity;
    for (let c = 0; c < this.o.nCandidates; c++) {
      const x = l.sample(rng);
      const s = l.logPdf(x) - g.logPdf(x);
      if (s > bestScore) {
        bestScore = s;
        best = x;
      }
    }
    const out: Params = {};
    if (best) group.forEach((n, j) => (out[n] = decode(dims[j]!, best[j]!)));
    return out;
  }
}
