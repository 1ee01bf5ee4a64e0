/**
 * Bayesian optimisation with a Gaussian process and expected improvement, for spaces of up
 * to about 20 parameters and small budgets. Numeric parameters are scaled to [0, 1] (log
 * parameters on the log scale); a categorical parameter with k choices becomes k one-hot
 * coordinates, each with its own ARD length scale, and the acquisition is optimised over
 * one-hot points only (a candidate takes one category; local moves switch it to another
 * with some probability), decoded by the coordinate that is 1. The GP and its linear
 * algebra are our own TypeScript (src/samplers/gaussian-process.ts, linalg.ts): the
 * matrices are at most a few hundred wide, where plain loops on Float64Arrays beat the
 * per-op overhead of tfjs, and no dependency is needed.
 */
import { UsageError } from '../errors.js';
import { FastRng, deriveSeed } from '../random.js';
import { isActive, type Params, type SearchSpace } from '../space/distribution.js';
import { decode, dimOf, encode } from './encoding.js';
import { expectedImprovement, fitHyper, GaussianProcess } from './gaussian-process.js';
import { EMPTY_HISTORY, type History } from './history.js';
import { RandomSampler } from './random-sampler.js';
import type { Sampler } from './sampler.js';
import { finishedCount, scoreHistory } from './scoring.js';

export interface GpOptions {
  /**
   * Random trials before the model takes over. Default 5: on Hartmann-6 (20 seeds, 100
   * trials) 5 left 8 seeds in the second-best basin, 10 and 20 left 10 or more.
   */
  readonly nStartup?: number;
  /** Model from rung results (multi-fidelity schedulers). Default false. */
  readonly fidelity?: boolean;
  readonly minPerRung?: number;
  /** At most this many trials are modelled: the best third and the most recent rest. Default 300. */
  readonly maxObservations?: number;
}

export class GpSampler implements Sampler {
  readonly name = 'gp';
  readonly needs;
  private readonly o: Required<GpOptions>;
  private readonly random = new RandomSampler();

  constructor(opts: GpOptions = {}) {
    this.o = { nStartup: opts.nStartup ?? 5, fidelity: opts.fidelity ?? false, minPerRung: opts.minPerRung ?? 10, maxObservations: opts.maxObservations ?? 300 };
    this.needs = this.o.fidelity ? ('reports' as const) : ('trials' as const);
  }

  check(space: SearchSpace): void {
    const names = Object.keys(space);
    for (const [name, d] of Object.entries(space)) {
      if (d.when) throw new UsageError(`--sampler gp needs a space without conditions; "${name}" has "when" (use --sampler tpe)`);
    }
    if (names.length > 30) throw new UsageError(`--sampler gp is meant for up to about 20 parameters, got ${names.length} (use --sampler tpe)`);
    const width = names.reduce((a, n) => a + (space[n]!.type === 'categorical' ? (space[n] as { choices: readonly unknown[] }).choices.length : 1), 0);
    if (width > 60) throw new UsageError(`--sampler gp is meant for small spaces; this one is ${width} coordinates wide with its categories one-hot (use --sampler tpe)`);
  }

  sample(space: SearchSpace, studySeed: number, trialNumber: number, history: History = EMPTY_HISTORY): Params {
    this.check(space);
    if (finishedCount(history) < this.o.nStartup) return this.random.sample(space, studySeed, trialNumber);
    const names = Object.keys(space).filter((n) => isActive(space[n]!, {}));
    const dims = names.map((n) => dimOf(space[n]!));
    // Coordinates: one per numeric parameter, k one-hot ones per categorical with k choices.
    const offset: number[] = [];
    let width = 0;
    for (const d of dims) {
      offset.push(width);
      width += d.kind === 'cat' ? d.k : 1;
    }
    const toUnit = (p: Params): Float64Array | null => {
      const z = new Float64Array(width);
      for (let j = 0; j < dims.length; j++) {
        const v = p[names[j]!];
        if (v === undefined) return null;
        const dim = dims[j]!;
        const x = encode(dim, v);
        if (Number.isNaN(x)) return null;
        if (dim.kind === 'cat') z[offset[j]! + x] = 1;
        else z[offset[j]!] = (x - dim.lo) / (dim.hi - dim.lo);
      }
      return z;
    };
    const { scored, bad } = scoreHistory(history, { fidelity: this.o.fidelity, minPerRung: this.o.minPerRung });
    let obs = scored.map((t) => ({ number: t.number, z: toUnit(t.params), y: t.score })).filter((o) => o.z !== null) as {
      number: number;
      z: Float64Array;
      y: number;
    }[];
    if (obs.length < 2) return this.random.sample(space, studySeed, trialNumber);
    if (obs.length > this.o.maxObservations) {
      const nBest = Math.floor(this.o.maxObservations / 3);
      const best = [...obs].sort((a, b) => a.y - b.y || a.number - b.number).slice(0, nBest);
      const keep = new Set(best.map((o) => o.number));
      const recent = obs.filter((o) => !keep.has(o.number)).slice(-(this.o.maxObservations - nBest));
      obs = [...best, ...recent].sort((a, b) => a.number - b.number);
    }
    // Standardise; the constant liar gives running (and pruned) trials the worst value seen.
    const ys = obs.map((o) => o.y);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    const sd = Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length) || 1;
    const worst = Math.max(...ys);
    const xs = obs.map((o) => o.z);
    const y = obs.map((o) => (o.y - mean) / sd);
    const fitX = [...xs];
    const fitY = [...y];
    for (const t of bad.slice(-this.o.maxObservations)) {
      const z = toUnit(t.params);
      if (z) {
        fitX.push(z);
        fitY.push((worst - mean) / sd);
      }
    }
    const yArr = Float64Array.from(fitY);
    const hyper = fitHyper(fitX, yArr, width);
    const gp = new GaussianProcess(fitX, yArr, hyper);
    const incumbent = Math.min(...y);
    const rng = new FastRng(deriveSeed(studySeed, 'gp', trialNumber));
    const score = (z: Float64Array): number => {
      const p = gp.predict(z);
      return expectedImprovement(p.mean, p.sd, incumbent);
    };
    const clip = (v: number): number => Math.min(1, Math.max(0, v));
    const setCat = (z: Float64Array, j: number, c: number): void => {
      const d = dims[j]! as { k: number };
      z.fill(0, offset[j]!, offset[j]! + d.k);
      z[offset[j]! + c] = 1;
    };
    const random = (): Float64Array => {
      const z = new Float64Array(width);
      dims.forEach((d, j) => (d.kind === 'cat' ? setCat(z, j, Math.floor(rng.next() * d.k)) : (z[offset[j]!] = rng.next())));
      return z;
    };
    // A local move: numeric coordinates jittered at `scale`; each categorical switched to a
    // random other choice with probability `scale` * 2 (one-hot points stay one-hot).
    const near = (z0: Float64Array, scale: number): Float64Array => {
      const z = Float64Array.from(z0);
      dims.forEach((d, j) => {
        if (d.kind !== 'cat') z[offset[j]!] = clip(z0[offset[j]!]! + scale * gauss(rng));
        else if (rng.next() < 2 * scale) {
          let cur = 0;
          while (z0[offset[j]! + cur] !== 1) cur++;
          const r = Math.floor(rng.next() * (d.k - 1));
          setCat(z, j, r >= cur ? r + 1 : r);
        }
      });
      return z;
    };
    let cands: { z: Float64Array; ei: number }[] = [];
    const add = (z: Float64Array): void => {
      cands.push({ z, ei: score(z) });
    };
    for (let c = 0; c < 1000 + 100 * width; c++) add(random());
    // Local candidates around the best observed points, at two scales.
    const top = obs.map((o, i) => ({ i, y: y[i]! })).sort((a, b) => a.y - b.y).slice(0, 5);
    for (const t of top) {
      for (const scale of [0.1, 0.02]) {
        for (let c = 0; c < 60; c++) add(near(xs[t.i]!, scale));
      }
    }
    // Refine the best candidates by shrinking random perturbations (a simple local search).
    for (const scale of [0.05, 0.01, 0.002]) {
      cands.sort((a, b) => b.ei - a.ei);
      cands = cands.slice(0, 10);
      for (const c0 of cands.slice(0, 5)) {
        for (let c = 0; c < 40; c++) add(near(c0.z, scale));
      }
    }
    cands.sort((a, b) => b.ei - a.ei);
    const bestZ = cands[0]!.z;
    const out: Params = {};
    names.forEach((n, j) => {
      const d = dims[j]!;
      if (d.kind === 'cat') {
        let c = 0;
        while (c < d.k - 1 && bestZ[offset[j]! + c] !== 1) c++;
        out[n] = decode(d, c);
      } else out[n] = decode(d, d.lo + bestZ[offset[j]!]! * (d.hi - d.lo));
    });
    return out;
  }
}

function gauss(rng: FastRng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

