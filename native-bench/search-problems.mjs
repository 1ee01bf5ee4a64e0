// Test functions of the search-quality benchmark: Branin, Hartmann-6 and a learning-curve
// problem for the multi-fidelity schedulers. Each has a space (JSON form), an objective and
// the known optimum.

export const branin = {
  name: 'Branin',
  space: { x1: { type: 'uniform', low: -5, high: 10 }, x2: { type: 'uniform', low: 0, high: 15 } },
  optimum: 0.397887,
  f({ x1, x2 }) {
    const b = 5.1 / (4 * Math.PI ** 2);
    const c = 5 / Math.PI;
    const t = 1 / (8 * Math.PI);
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
  },
};

const H_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const H_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((r) => r.map((v) => v * 1e-4));
const H_ALPHA = [1, 1.2, 3, 3.2];

export const hartmann6 = {
  name: 'Hartmann-6',
  space: Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`x${i}`, { type: 'uniform', low: 0, high: 1 }])),
  optimum: -3.32237,
  f(p) {
    const x = [p.x1, p.x2, p.x3, p.x4, p.x5, p.x6];
    let s = 0;
    for (let i = 0; i < 4; i++) {
      let e = 0;
      for (let j = 0; j < 6; j++) e += H_A[i][j] * (x[j] - H_P[i][j]) ** 2;
      s += H_ALPHA[i] * Math.exp(-e);
    }
    return -s;
  },
};

/**
 * A scripted learning curve: validation error after `epoch` epochs of a config. Final
 * quality depends on all four parameters; the speed of convergence on the learning rate,
 * so early rungs favour large rates that do not end best (what makes pruning hard).
 */
export const learningCurve = {
  name: 'learning curve (ASHA)',
  space: {
    learning_rate: { type: 'loguniform', low: 1e-4, high: 1 },
    num_hiddens: { type: 'int', low: 16, high: 1024, log: true },
    dropout: { type: 'uniform', low: 0, high: 0.6 },
    batch_size: { type: 'int', low: 16, high: 512 },
  },
  maxEpochs: 27,
  minEpochs: 1,
  eta: 3,
  final(p) {
    const lr = Math.log10(p.learning_rate);
    const w = Math.log2(p.num_hiddens);
    return 0.08 + 0.06 * (lr + 2) ** 2 + 0.01 * (w - 8) ** 2 + 0.3 * (p.dropout - 0.25) ** 2 + 0.02 * ((p.batch_size - 96) / 100) ** 2;
  },
  curve(p, epoch) {
    const f = learningCurve.final(p);
    const rate = 0.08 * Math.pow(p.learning_rate / 1e-3, 0.5) * (64 / Math.sqrt(p.batch_size * 16));
    return f + (0.9 - f) * Math.exp(-rate * epoch);
  },
  f(p) {
    return learningCurve.curve(p, learningCurve.maxEpochs);
  },
};

/** The learning-curve problem's optimum at maxEpochs, by a grid with local refinement. */
export function learningCurveOptimum() {
  const d = learningCurve.space;
  let best = { v: Infinity, p: null };
  const grid = (lo, hi, n, log) =>
    Array.from({ length: n }, (_, i) => (log ? Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (n - 1)) : lo + ((hi - lo) * i) / (n - 1)));
  for (const lr of grid(d.learning_rate.low, 1, 60, true))
    for (const h of grid(16, 1024, 25, true).map(Math.round))
      for (const dr of grid(0, 0.6, 25, false))
        for (const b of grid(16, 512, 25, false).map(Math.round)) {
          const p = { learning_rate: lr, num_hiddens: h, dropout: dr, batch_size: b };
          const v = learningCurve.f(p);
          if (v < best.v) best = { v, p };
        }
  return best.v;
}
