/**
 * Axis scales and tick choice for the report's hand-written SVG charts: linear, log10 and
 * categorical (evenly spaced points).
 */

export interface Tick {
  readonly at: number; // pixel position
  readonly label: string;
}

export interface Scale {
  readonly kind: 'linear' | 'log' | 'band';
  /** Pixel position of a value (numbers for linear/log, any scalar for band). */
  readonly map: (v: unknown) => number;
  readonly ticks: (approx?: number) => Tick[];
}

/** Short label for a tick value: 3 significant digits, exponent form for tiny or huge numbers. */
export function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/** 1, 2 or 5 times a power of ten, near span / count. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/**
 * A value axis: [lo, hi] with 4% of room at each end, then rounded, so the best value
 * never sits on the axis line.
 */
export function valueDomain(lo: number, hi: number): [number, number] {
  const pad = (hi - lo) * 0.04;
  const [a, b] = niceDomain(lo - pad, hi + pad);
  // Errors and losses are rarely negative: do not invent negative ticks by padding.
  return [lo >= 0 && a < 0 ? 0 : a, b];
}

/** [lo, hi] widened to nice round numbers, never empty. */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - d, hi + d];
  }
  const step = niceStep(hi - lo, count);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

export function linearScale(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const [d0, d1] = domain[0] === domain[1] ? [domain[0] - 1, domain[1] + 1] : domain;
  const [r0, r1] = range;
  const map = (v: unknown): number => r0 + ((Number(v) - d0) / (d1 - d0)) * (r1 - r0);
  return {
    kind: 'linear',
    map,
    ticks: (approx = 5) => {
      const step = niceStep(Math.abs(d1 - d0), approx);
      const lo = Math.min(d0, d1);
      const hi = Math.max(d0, d1);
      const out: Tick[] = [];
      for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
        const v = Math.abs(i * step) < step * 1e-9 ? 0 : i * step;
        out.push({ at: map(v), label: fmtTick(v) });
      }
      return out;
    },
  };
}

/** log10 scale; the domain must be positive (the caller widens it to whole decades if it likes). */
export function logScale(domain: readonly [number, number], range: readonly [number, number]): Scale {
  const l0 = Math.log10(domain[0]);
  const l1 = domain[0] === domain[1] ? l0 + 1 : Math.log10(domain[1]);
  const [r0, r1] = range;
  const map = (v: unknown): number => r0 + ((Math.log10(Number(v)) - l0) / (l1 - l0)) * (r1 - r0);
  return {
    kind: 'log',
    map,
    ticks: () => {
      const lo = Math.min(l0, l1);
      const hi = Math.max(l0, l1);
      // Decades, plus 2x and 5x when the axis spans less than about two decades.
      const mult = hi - lo < 2.2 ? [1, 2, 5] : [1];
      const out: Tick[] = [];
      for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
        for (const m of mult) {
          const v = m * 10 ** e;
          const lv = Math.log10(v);
          if (lv >= lo - 1e-9 && lv <= hi + 1e-9) out.push({ at: map(v), label: fmtTick(Number(v.toPrecision(3))) });
        }
      }
      return out;
    },
  };
}

/** Categories at evenly spaced points, half a step in from each end. */
export function bandScale(categories: readonly unknown[], range: readonly [number, number]): Scale {
  const keys = categories.map((c) => JSON.stringify(c));
  const n = Math.max(1, keys.length);
  const [r0, r1] = range;
  const step = (r1 - r0) / n;
  const map = (v: unknown): number => {
    const i = keys.indexOf(JSON.stringify(v));
    return r0 + step * ((i < 0 ? 0 : i) + 0.5);
  };
  return {
    kind: 'band',
    map,
    ticks: () => categories.map((c, i) => ({ at: r0 + step * (i + 0.5), label: String(c) })),
  };
}

/** Round a pixel coordinate to one decimal: keeps files small, invisible on screen. */
export const px = (v: number): string => String(Math.round(v * 10) / 10);
