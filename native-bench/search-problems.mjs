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

// More test functions for the 100-seed comparison against Optuna (native-bench/search-suite.mjs,
// native-bench/optuna_search.py): standard forms and domains, optimum known.
const U = (low, high) => ({ type: 'uniform', low, high });
const cube = (d, lo, hi) => Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i + 1}`, U(lo, hi)]));
const xs = (p, d) => Array.from({ length: d }, (_, i) => p[`x${i + 1}`]);

export const suite = {
  branin: { name: 'Branin', space: branin.space, optimum: branin.optimum, f: branin.f },
  hartmann6: { name: 'Hartmann-6', space: hartmann6.space, optimum: hartmann6.optimum, f: hartmann6.f },
  goldstein: {
    name: 'Goldstein-Price',
    space: { x1: U(-2, 2), x2: U(-2, 2) },
    optimum: 3,
    f(p) {
      const [x, y] = xs(p, 2);
      return (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y)) * (30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y));
    },
  },
  camel: {
    name: 'Six-hump camel',
    space: { x1: U(-3, 3), x2: U(-2, 2) },
    optimum: -1.0316285,
    f(p) {
      const [x, y] = xs(p, 2);
      return (4 - 2.1 * x * x + x ** 4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y;
    },
  },
  hartmann3: {
    name: 'Hartmann-3',
    space: cube(3, 0, 1),
    optimum: -3.86278,
    f(p) {
      const A = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]];
      const P = [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]];
      const x = xs(p, 3);
      let s = 0;
      for (let i = 0; i < 4; i++) {
        let e = 0;
        for (let j = 0; j < 3; j++) e += A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2;
        s += H_ALPHA[i] * Math.exp(-e);
      }
      return -s;
    },
  },
  styblinski4: { name: 'Styblinski-Tang-4', space: cube(4, -5, 5), optimum: -39.16617 * 4, f: (p) => xs(p, 4).reduce((a, x) => a + 0.5 * (x ** 4 - 16 * x * x + 5 * x), 0) },
  levy4: {
    name: 'Levy-4',
    space: cube(4, -10, 10),
    optimum: 0,
    f(p) {
      const w = xs(p, 4).map((x) => 1 + (x - 1) / 4);
      let s = Math.sin(Math.PI * w[0]) ** 2;
      for (let i = 0; i < 3; i++) s += (w[i] - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i] + 1) ** 2);
      return s + (w[3] - 1) ** 2 * (1 + Math.sin(2 * Math.PI * w[3]) ** 2);
    },
  },
  ackley5: {
    name: 'Ackley-5',
    space: cube(5, -5, 10),
    optimum: 0,
    f(p) {
      const x = xs(p, 5);
      const a = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / 5);
      const b = x.reduce((s, v) => s + Math.cos(2 * Math.PI * v), 0) / 5;
      return -20 * Math.exp(-0.2 * a) - Math.exp(b) + 20 + Math.E;
    },
  },
  rosenbrock4: {
    name: 'log(1 + Rosenbrock-4)',
    space: cube(4, -2, 2),
    optimum: 0,
    f(p) {
      const x = xs(p, 4);
      let s = 0;
      for (let i = 0; i < 3; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
      return Math.log1p(s);
    },
  },
  lcfinal: { name: 'learning curve, final value (log, int, log int)', space: learningCurve.space, optimum: null, f: (p) => learningCurve.final(p) },
};
