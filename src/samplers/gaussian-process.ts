/**
 * A Gaussian-process regression model with a Matern-5/2 ARD kernel on [0, 1]^d, its
 * hyperparameters (length scales, signal variance, noise) fitted by maximising the log
 * marginal likelihood (plus a weak log-normal prior on the length scales) with Adam on
 * analytic gradients, and the expected improvement acquisition for minimisation.
 */
import { choleskyJittered, cholInverse, cholLogDet, cholSolve, solveLower } from './linalg.js';
import { normCdf, normPdf } from './normal.js';

const SQRT5 = Math.sqrt(5);

export interface GpHyper {
  /** log length scales, one per dimension */
  readonly logLen: readonly number[];
  readonly logSignal: number;
  readonly logNoise: number;
}

/** Matern-5/2 correlation for scaled distance r. */
export function matern52(r: number): number {
  return (1 + SQRT5 * r + (5 / 3) * r * r) * Math.exp(-SQRT5 * r);
}

function covariance(x: readonly Float64Array[], h: GpHyper): { k: Float64Array; d2: Float64Array[] } {
  const n = x.length;
  const d = h.logLen.length;
  const inv = h.logLen.map((l) => Math.exp(-l));
  const s2 = Math.exp(h.logSignal);
  const k = new Float64Array(n * n);
  // Per-dimension scaled squared differences, kept for the gradient.
  const d2 = Array.from({ length: d }, () => new Float64Array(n * n));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let r2 = 0;
      for (let q = 0; q < d; q++) {
        const t = (x[i]![q]! - x[j]![q]!) * inv[q]!;
        const t2 = t * t;
        d2[q]![i * n + j] = t2;
        r2 += t2;
      }
      const v = s2 * matern52(Math.sqrt(r2));
      k[i * n + j] = v;
      k[j * n + i] = v;
    }
    k[i * n + i] = s2;
  }
  return { k, d2 };
}

/** Negative log marginal likelihood (plus prior) and its gradient in the log hyperparameters. */
export function negLogLik(x: readonly Float64Array[], y: Float64Array, h: GpHyper): { value: number; grad: number[] } {
  const n = x.length;
  const d = h.logLen.length;
  const { k, d2 } = covariance(x, h);
  const noise = Math.exp(h.logNoise);
  for (let i = 0; i < n; i++) k[i * n + i]! += noise;
  const { l } = choleskyJittered(k, n);
  const alpha = cholSolve(l, n, y);
  let fit = 0;
  for (let i = 0; i < n; i++) fit += y[i]! * alpha[i]!;
  const value0 = 0.5 * fit + 0.5 * cholLogDet(l, n) + 0.5 * n * Math.log(2 * Math.PI);
  const kinv = cholInverse(l, n);
  const s2 = Math.exp(h.logSignal);
  const grad = new Array<number>(d + 2).fill(0);
  // d(-L)/dtheta = -0.5 tr((alpha alpha^T - K^-1) dK/dtheta)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const w = alpha[i]! * alpha[j]! - kinv[i * n + j]!;
      let r2 = 0;
      for (let q = 0; q < d; q++) r2 += d2[q]![i * n + j]!;
      const r = Math.sqrt(r2);
      const e = Math.exp(-SQRT5 * r);
      const common = s2 * (5 / 3) * (1 + SQRT5 * r) * e;
      for (let q = 0; q < d; q++) grad[q]! -= w * common * d2[q]![i * n + j]!; // both (i,j) and (j,i): factor 2 * 0.5
      grad[d]! -= w * s2 * matern52(r);
    }
    const wii = alpha[i]! * alpha[i]! - kinv[i * n + i]!;
    grad[d]! -= 0.5 * wii * s2;
    grad[d + 1]! -= 0.5 * wii * noise;
  }
  // Weak log-normal prior on each length scale around 0.5 of the unit cube (sd 1.5 in log).
  let prior = 0;
  const mu = Math.log(0.5);
  for (let q = 0; q < d; q++) {
    const z = (h.logLen[q]! - mu) / 1.5;
    prior += 0.5 * z * z;
    grad[q]! += z / 1.5;
  }
  return { value: value0 + prior, grad };
}

/** Fit hyperparameters with Adam from a fixed start (deterministic); bounds keep them sane. */
export function fitHyper(x: readonly Float64Array[], y: Float64Array, d: number, iterations = 60): GpHyper {
  let theta = [...new Array<number>(d).fill(Math.log(0.3)), 0, Math.log(1e-3)];
  const lo = [...new Array<number>(d).fill(Math.log(0.01)), Math.log(0.05), Math.log(1e-6)];
  const hi = [...new Array<number>(d).fill(Math.log(20)), Math.log(20), Math.log(0.5)];
  const m = new Array<number>(theta.length).fill(0);
  const v = new Array<number>(theta.length).fill(0);
  const lr = 0.1;
  let best = { value: Infinity, theta };
  const hyper = (t: number[]): GpHyper => ({ logLen: t.slice(0, d), logSignal: t[d]!, logNoise: t[d + 1]! });
  for (let it = 1; it <= iterations; it++) {
    const { value, grad } = negLogLik(x, y, hyper(theta));
    if (value < best.value) best = { value, theta: [...theta] };
    theta = theta.map((t, i) => {
      const g = grad[i]!;
      m[i] = 0.9 * m[i]! + 0.1 * g;
      v[i] = 0.999 * v[i]! + 0.001 * g * g;
      const mh = m[i]! / (1 - 0.9 ** it);
      const vh = v[i]! / (1 - 0.999 ** it);
      return Math.min(hi[i]!, Math.max(lo[i]!, t - (lr * mh) / (Math.sqrt(vh) + 1e-8)));
    });
  }
  return hyper(best.theta);
}

/** A fitted GP, ready to predict. */
export class GaussianProcess {
  private readonly l: Float64Array;
  private readonly alpha: Float64Array;
  private readonly inv: number[];
  private readonly s2: number;
  readonly n: number;

  constructor(
    private readonly x: readonly Float64Array[],
    y: Float64Array,
    readonly hyper: GpHyper,
  ) {
    this.n = x.length;
    const { k } = covariance(x, hyper);
    const noise = Math.exp(hyper.logNoise);
    for (let i = 0; i < this.n; i++) k[i * this.n + i]! += noise;
    this.l = choleskyJittered(k, this.n).l;
    this.alpha = cholSolve(this.l, this.n, y);
    this.inv = hyper.logLen.map((l) => Math.exp(-l));
    this.s2 = Math.exp(hyper.logSignal);
  }

  /** Posterior mean and standard deviation of the latent function at z. */
  predict(z: ArrayLike<number>): { mean: number; sd: number } {
    const n = this.n;
    const ks = new Float64Array(n);
    let mean = 0;
    for (let i = 0; i < n; i++) {
      const xi = this.x[i]!;
      let r2 = 0;
      for (let q = 0; q < this.inv.length; q++) {
        const t = (z[q]! - xi[q]!) * this.inv[q]!;
        r2 += t * t;
      }
      ks[i] = this.s2 * matern52(Math.sqrt(r2));
      mean += ks[i]! * this.alpha[i]!;
    }
    const v = solveLower(this.l, n, ks);
    let vv = 0;
    for (let i = 0; i < n; i++) vv += v[i]! * v[i]!;
    return { mean, sd: Math.sqrt(Math.max(this.s2 - vv, 1e-12)) };
  }
}

/** Expected improvement below `best` (minimisation) of a normal prediction. */
export function expectedImprovement(mean: number, sd: number, best: number): number {
  if (sd <= 0) return Math.max(0, best - mean);
  const z = (best - mean) / sd;
  return (best - mean) * normCdf(z) + sd * normPdf(z);
}
