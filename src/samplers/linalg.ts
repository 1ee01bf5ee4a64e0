/**
 * The little dense linear algebra a Gaussian process needs, on row-major Float64Arrays:
 * Cholesky factorisation (with jitter retries), triangular solves, and the inverse from
 * the factor. n is at most a few hundred here, so plain loops are enough.
 */

/**
 * Lower-triangular L with A = L L^T, for a symmetric positive definite n x n matrix A
 * (row-major). Returns null if A is not positive definite (a non-positive pivot).
 */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= l[ri + k]! * l[rj + k]!;
      if (i === j) {
        if (!(s > 0)) return null;
        l[ri + i] = Math.sqrt(s);
      } else l[ri + j] = s / l[rj + j]!;
    }
  }
  return l;
}

/**
 * Cholesky of A + jitter I, raising the jitter tenfold from `jitter` until it succeeds.
 * @throws Error if even a jitter of 1e-2 times the mean diagonal fails (A is not a covariance).
 */
export function choleskyJittered(a: Float64Array, n: number, jitter = 1e-10): { l: Float64Array; jitter: number } {
  let meanDiag = 0;
  for (let i = 0; i < n; i++) meanDiag += a[i * n + i]! / n;
  for (let eps = 0; ; eps = eps === 0 ? jitter * meanDiag : eps * 10) {
    let m = a;
    if (eps > 0) {
      m = Float64Array.from(a);
      for (let i = 0; i < n; i++) m[i * n + i]! += eps;
    }
    const l = cholesky(m, n);
    if (l) return { l, jitter: eps };
    if (eps > 1e-2 * meanDiag) throw new Error('cholesky: matrix is not positive definite');
  }
}

/** Solve L x = b (L lower-triangular, row-major). */
export function solveLower(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    const ri = i * n;
    for (let k = 0; k < i; k++) s -= l[ri + k]! * x[k]!;
    x[i] = s / l[ri + i]!;
  }
  return x;
}

/** Solve L^T x = b (L lower-triangular, row-major). */
export function solveUpperT(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  return x;
}

/** Solve (L L^T) x = b. */
export function cholSolve(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  return solveUpperT(l, n, solveLower(l, n, b));
}

/** (L L^T)^-1 as a full symmetric matrix: invert L, then L^-T L^-1. */
export function cholInverse(l: Float64Array, n: number): Float64Array {
  // inv(L), lower-triangular
  const li = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    li[i * n + i] = 1 / l[i * n + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * n + k]! * li[k * n + j]!;
      li[i * n + j] = s / l[i * n + i]!;
    }
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** log det(L L^T) = 2 sum log diag(L). */
export function cholLogDet(l: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log(l[i * n + i]!);
  return 2 * s;
}
