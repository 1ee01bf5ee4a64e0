/** Standard normal helpers for the Parzen estimators and expected improvement. */

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Complementary error function, Chebyshev-fitted form (Numerical Recipes' erfcc shape,
 * fractional error below 1.2e-7 everywhere), which is accurate enough for ranking
 * candidates and far cheaper than a series.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export function normCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Standard normal log density. */
export function normLogPdf(z: number): number {
  return -0.5 * z * z - LOG_SQRT_2PI;
}

export function normPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/**
 * log(Phi(b) - Phi(a)) for a < b, computed on the side of the distribution where the
 * two CDF values are not both close to 1 (where their difference would cancel).
 */
export function logNormMass(a: number, b: number): number {
  const m = a > 0 ? normCdf(-a) - normCdf(-b) : normCdf(b) - normCdf(a);
  if (m > 1e-300) return Math.log(m);
  // Far in a tail: the density at the nearer end times the width, an upper-tail bound.
  const near = a > 0 ? a : b < 0 ? b : 0;
  return normLogPdf(near) + Math.log(Math.max(b - a, 1e-300));
}
