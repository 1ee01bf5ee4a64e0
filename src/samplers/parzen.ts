/**
 * A Parzen estimator (kernel mixture) over one group of parameters: one component per
 * observation plus a broad prior component, truncated normal kernels on numeric
 * dimensions (integers scored by the mass of their rounding cell), and smoothed
 * one-hot kernels on categorical ones. TPE builds one for the good trials and one for the
 * rest and proposes the candidate that maximises their density ratio.
 */
import type { FastRng } from '../random.js';
import type { Dim } from './encoding.js';
import { logNormMass, normLogPdf } from './normal.js';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

export interface ParzenOptions {
  /** Weight of the prior component (centre of the range, sigma = the range), relative to observations of weight <= 1. */
  readonly priorWeight: number;
  /** Multivariate (joint kernels, Scott-type bandwidths) or univariate (neighbour-gap bandwidths; one dim). */
  readonly multivariate: boolean;
  /** Multivariate bandwidths: Scott-type (default) or each dimension's neighbour gaps. */
  readonly jointBandwidth?: 'scott' | 'neighbour';
  /** Multiplies every observation kernel's bandwidth (before clipping). Default 1. */
  readonly bandwidthScale?: number;
  /**
   * Given bandwidths, bandwidths[i][j] for observation i on dim j (numeric dims only; others
   * ignored), in place of the estimator's own rule: TPE's shared scoring kernels.
   */
  readonly bandwidths?: readonly (readonly number[])[];
}

/**
 * Bandwidths of a univariate estimator: each kernel is as wide as the larger gap to its
 * sorted neighbours (the prior's mean among them, the bounds at the ends), clipped to
 * [range / min(100, 1 + m), range]. Dense regions get narrow kernels, isolated points
 * wide ones. `mus` excludes the prior; returns one sigma per mu.
 */
export function neighbourBandwidths(mus: readonly number[], lo: number, hi: number, scale = 1): number[] {
  const m = mus.length;
  const range = hi - lo;
  // The prior's mean takes part as a neighbour (index -1), as the prior is one more kernel.
  const pts = mus.map((v, i) => ({ v, i }));
  pts.push({ v: (lo + hi) / 2, i: -1 });
  pts.sort((a, b) => a.v - b.v);
  const minSigma = range / Math.min(100, 1 + m);
  const out = new Array<number>(m);
  for (let p = 0; p < pts.length; p++) {
    const { v, i } = pts[p]!;
    if (i < 0) continue;
    // At the ends only the inner neighbour counts: the bound says nothing about spacing.
    const left = p > 0 ? v - pts[p - 1]!.v : 0;
    const right = p < pts.length - 1 ? pts[p + 1]!.v - v : 0;
    out[i] = Math.min(range, Math.max(minSigma, scale * Math.max(left, right)));
  }
  return out;
}

/** Scott-type bandwidth for a multivariate estimator of m points in d dims. */
export function scottBandwidth(m: number, d: number, lo: number, hi: number, scale = 1): number {
  const range = hi - lo;
  return Math.min(range, Math.max(range / Math.min(100, 1 + m), scale * 0.2 * Math.pow(Math.max(m, 1), -1 / (d + 4)) * range));
}

/** Kernel mass a categorical observation keeps on its own choice among k, given m observations. */
export function categoricalKernel(k: number, m: number): { own: number; other: number } {
  // Smoothing shrinks as observations accumulate: eps = 1/m, own = (1 + eps) / (1 + k eps).
  const eps = 1 / Math.max(1, m);
  return { own: (1 + eps) / (1 + k * eps), other: eps / (1 + k * eps) };
}

export class ParzenEstimator {
  /** Number of components (observations + the prior). */
  readonly n: number;
  private readonly logW: Float64Array;
  private readonly cumW: Float64Array;
  /** Per dim: component means (numeric) or observed choice index (categorical; -1 = prior). */
  private readonly mu: Float64Array[];
  private readonly sigma: Float64Array[];
  /** Per numeric dim: log truncation mass of each component over [lo, hi]. */
  private readonly logZ: Float64Array[];
  /** Per numeric dim: log sigma of each component. */
  private readonly logSigma: Float64Array[] = [];
  private readonly catLog: { own: number; other: number; prior: number }[];

  /**
   * @param dims the group's dimensions
   * @param obs observations, obs[i][j] = internal coordinate of dim j in observation i
   * @param weights one non-negative weight per observation
   */
  constructor(
    readonly dims: readonly Dim[],
    obs: readonly (readonly number[])[],
    weights: readonly number[],
    opts: ParzenOptions,
  ) {
    const m = obs.length;
    this.n = m + 1;
    const w = [...weights, opts.priorWeight];
    const total = w.reduce((a, b) => a + b, 0);
    this.logW = Float64Array.from(w, (x) => Math.log(x / total));
    this.cumW = new Float64Array(this.n);
    let acc = 0;
    for (let i = 0; i < this.n; i++) this.cumW[i] = acc += w[i]! / total;
    this.mu = [];
    this.sigma = [];
    this.logZ = [];
    this.catLog = [];
    dims.forEach((dim, j) => {
      const mu = new Float64Array(this.n);
      const sigma = new Float64Array(this.n);
      const logZ = new Float64Array(this.n);
      if (dim.kind === 'num') {
        const range = dim.hi - dim.lo;
        const col = obs.map((o) => o[j]!);
        const k = opts.bandwidthScale ?? 1;
        const sig = opts.bandwidths
          ? []
          : (opts.multivariate || dims.length > 1) && opts.jointBandwidth !== 'neighbour'
            ? col.map(() => scottBandwidth(m, dims.length, dim.lo, dim.hi, k))
            : neighbourBandwidths(col, dim.lo, dim.hi, k);
        for (let i = 0; i < m; i++) {
          mu[i] = col[i]!;
          sigma[i] = opts.bandwidths ? opts.bandwidths[i]![j]! : sig[i]!;
        }
        mu[m] = (dim.lo + dim.hi) / 2;
        sigma[m] = range;
        // logZ holds the truncation mass; for real dims also -log sigma, so logPdf adds one term.
        for (let i = 0; i < this.n; i++) {
          logZ[i] = logNormMass((dim.lo - mu[i]!) / sigma[i]!, (dim.hi - mu[i]!) / sigma[i]!) + (dim.int ? 0 : Math.log(sigma[i]!));
        }
        this.catLog.push({ own: 0, other: 0, prior: 0 });
      } else {
        for (let i = 0; i < m; i++) mu[i] = obs[i]![j]!;
        mu[m] = -1;
        const k = categoricalKernel(dim.k, m);
        this.catLog.push({ own: Math.log(k.own), other: Math.log(k.other), prior: -Math.log(dim.k) });
      }
      this.mu.push(mu);
      this.logSigma.push(sigma.map(Math.log));
      this.sigma.push(sigma);
      this.logZ.push(logZ);
    });
  }

  /** Draw one point (internal coordinates; integers rounded, so they can be scored as cells). */
  sample(rng: FastRng): number[] {
    const u = rng.next();
    let c = 0;
    while (c < this.n - 1 && this.cumW[c]! <= u) c++;
    return this.dims.map((dim, j) => {
      if (dim.kind === 'cat') {
        const own = this.mu[j]![c]!;
        if (own < 0) return Math.floor(rng.next() * dim.k);
        const p = Math.exp(this.catLog[j]!.own);
        if (rng.next() < p) return own;
        // one of the other k - 1 choices, uniformly
        const r = Math.floor(rng.next() * (dim.k - 1));
        return r >= own ? r + 1 : r;
      }
      const mu = this.mu[j]![c]!;
      const s = this.sigma[j]![c]!;
      let x = NaN;
      for (let tries = 0; tries < 100; tries++) {
        const y = mu + s * gaussian(rng);
        if (y >= dim.lo && y <= dim.hi) {
          x = y;
          break;
        }
      }
      if (Number.isNaN(x)) x = dim.lo + rng.next() * (dim.hi - dim.lo);
      if (dim.int) {
        // Round in the parameter's own scale, then come back: candidates are whole cells.
        const v = Math.min((dim.dist as { high: number }).high, Math.max((dim.dist as { low: number }).low, Math.round(dim.log ? Math.exp(x) : x)));
        return dim.log ? Math.log(v) : v;
      }
      return x;
    });
  }

  /** Log density (log cell mass for integer dims) of a point, log-sum-exp over components. */
  logPdf(x: readonly number[]): number {
    const acc = Float64Array.from(this.logW);
    this.dims.forEach((dim, j) => {
      const mu = this.mu[j]!;
      if (dim.kind === 'cat') {
        const { own, other, prior } = this.catLog[j]!;
        const v = x[j]!;
        for (let i = 0; i < this.n; i++) acc[i]! += mu[i]! < 0 ? prior : mu[i] === v ? own : other;
        return;
      }
      const sigma = this.sigma[j]!;
      const logZ = this.logZ[j]!;
      const xv = x[j]!;
      if (dim.int) {
        const v = Math.round(dim.log ? Math.exp(xv) : xv);
        const a = dim.log ? Math.log(v - 0.5) : v - 0.5;
        const b = dim.log ? Math.log(v + 0.5) : v + 0.5;
        const logSigma = this.logSigma[j]!;
        const mid = (a + b) / 2;
        const logWidth = Math.log(b - a);
        for (let i = 0; i < this.n; i++) {
          const s = sigma[i]!;
          if (b - a < 0.2 * s) {
            // A cell much narrower than the kernel: density at its centre times its width
            // (relative error below 0.2%), without two CDF evaluations.
            const z = (mid - mu[i]!) / s;
            acc[i]! += -0.5 * z * z - LOG_SQRT_2PI + logWidth - logSigma[i]! - logZ[i]!;
          } else acc[i]! += logNormMass((a - mu[i]!) / s, (b - mu[i]!) / s) - logZ[i]!;
        }
      } else {
        for (let i = 0; i < this.n; i++) {
          const z = (xv - mu[i]!) / sigma[i]!;
          acc[i]! += -0.5 * z * z - logZ[i]!;
        }
      }
    });
    let max = -Infinity;
    for (let i = 0; i < this.n; i++) if (acc[i]! > max) max = acc[i]!;
    if (max === -Infinity) return -Infinity;
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += Math.exp(acc[i]! - max);
    // normLogPdf(0) is the constant -log sqrt(2 pi) of every numeric kernel; kept for true densities.
    const numeric = this.dims.filter((d) => d.kind === 'num' && !d.int).length;
    return max + Math.log(sum) + numeric * normLogPdf(0);
  }
}

/** Standard normal draw (Box-Muller, one of the pair). */
export function gaussian(rng: FastRng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}
