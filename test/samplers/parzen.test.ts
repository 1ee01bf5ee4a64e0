import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FastRng } from '../../src/random.js';
import { dimOf } from '../../src/samplers/encoding.js';
import { erfc, logNormMass, normCdf } from '../../src/samplers/normal.js';
import { categoricalKernel, neighbourBandwidths, ParzenEstimator, scottBandwidth } from '../../src/samplers/parzen.js';
import { ageWeights, defaultGamma } from '../../src/samplers/tpe-sampler.js';

const close = (a: number, b: number, tol: number, what = ''): void => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

describe('normal helpers', () => {
  it('erfc and the normal CDF match tabulated values', () => {
    const table: [number, number][] = [
      [0, 0.5],
      [1, 0.841344746],
      [-1, 0.158655254],
      [1.96, 0.975002105],
      [-3, 0.001349898],
      [4, 0.999968329],
    ];
    for (const [z, p] of table) close(normCdf(z), p, 2e-7, `Phi(${z})`);
    close(erfc(0), 1, 1e-7);
    close(erfc(2), 0.004677735, 1e-8);
  });

  it('logNormMass is accurate in both tails, where a plain CDF difference cancels', () => {
    close(Math.exp(logNormMass(-1, 1)), 0.682689492, 1e-6);
    close(Math.exp(logNormMass(5, 6)), 2.8665e-7 - 9.8659e-10, 1e-9);
    close(Math.exp(logNormMass(-6, -5)), 2.8665e-7 - 9.8659e-10, 1e-9);
    assert.ok(Number.isFinite(logNormMass(40, 41)));
  });
});

describe('Parzen estimator pieces', () => {
  it('neighbour bandwidths: the larger gap to a sorted neighbour (the prior mean included), clipped', () => {
    // range 10, m = 3 -> min sigma 10 / 4 = 2.5; prior mean 5 sits among the points.
    const cases: [number[], number[]][] = [
      [[0, 1, 9], [2.5, 4, 4]], // gaps: 0->1 (1) => clipped 2.5; 1: max(1, 4)=4; 9: max(4, -)=4
      [[5], [5]], // one point and the prior, min sigma 10/2 = 5
      [[2, 2.1, 2.2], [2.5, 2.5, 2.8]],
    ];
    for (const [mus, want] of cases) {
      const got = neighbourBandwidths(mus, 0, 10);
      got.forEach((g, i) => close(g, want[i]!, 1e-12, `mus ${mus} sigma[${i}]`));
    }
    // never wider than the range
    assert.ok(neighbourBandwidths([0, 10], 0, 10).every((s) => s <= 10));
  });

  it('Scott bandwidth shrinks with more points and more slowly in more dims', () => {
    assert.ok(scottBandwidth(100, 1, 0, 1) < scottBandwidth(10, 1, 0, 1));
    assert.ok(scottBandwidth(100, 6, 0, 1) > scottBandwidth(100, 1, 0, 1));
    close(scottBandwidth(1, 2, 0, 1), 0.5, 1e-12); // floor range / min(100, 2)
  });

  it('categorical kernels sum to one and sharpen with more observations', () => {
    for (const [k, m] of [[2, 1], [3, 5], [10, 100]] as const) {
      const { own, other } = categoricalKernel(k, m);
      close(own + (k - 1) * other, 1, 1e-12);
      assert.ok(own > other);
    }
    assert.ok(categoricalKernel(3, 50).own > categoricalKernel(3, 2).own);
  });

  it('age weights: flat for the 25 most recent, a ramp up from 1/n before them', () => {
    assert.deepEqual(ageWeights(3), [1, 1, 1]);
    const w = ageWeights(50);
    assert.equal(w.length, 50);
    close(w[0]!, 1 / 50, 1e-12);
    assert.ok(w.slice(0, 25).every((x, i, a) => i === 0 || x > a[i - 1]!));
    assert.ok(w.slice(25).every((x) => x === 1));
  });

  it('gamma: 10% of the scored trials, at least 1, at most 25', () => {
    assert.deepEqual([1, 9, 10, 11, 100, 1000].map(defaultGamma), [1, 1, 1, 2, 10, 25]);
  });

  it('densities integrate to one (real dim) and sum to one (int and categorical dims)', () => {
    const real = dimOf({ type: 'uniform', low: -2, high: 3 });
    const pe = new ParzenEstimator([real], [[0], [0.5], [2.9]], [1, 1, 1], { priorWeight: 1, multivariate: false });
    let integral = 0;
    const steps = 20000;
    for (let i = 0; i < steps; i++) integral += Math.exp(pe.logPdf([-2 + (5 * (i + 0.5)) / steps])) * (5 / steps);
    close(integral, 1, 1e-3, 'integral');
    const int = dimOf({ type: 'int', low: 1, high: 64, log: true });
    const pi = new ParzenEstimator([int], [[Math.log(4)], [Math.log(32)]], [1, 1], { priorWeight: 1, multivariate: false });
    let sum = 0;
    for (let v = 1; v <= 64; v++) sum += Math.exp(pi.logPdf([Math.log(v)]));
    close(sum, 1, 0.01, 'int mass');
    const cat = dimOf({ type: 'categorical', choices: ['a', 'b', 'c'] });
    const pc = new ParzenEstimator([cat], [[0], [0], [2]], [1, 1, 1], { priorWeight: 1, multivariate: false });
    const ps = [0, 1, 2].map((c) => Math.exp(pc.logPdf([c])));
    close(ps[0]! + ps[1]! + ps[2]!, 1, 1e-9, 'cat mass');
    assert.ok(ps[0]! > ps[2]! && ps[2]! > ps[1]!);
  });

  it('given bandwidths replace the estimator\'s own on numeric dims', () => {
    const real = dimOf({ type: 'uniform', low: 0, high: 1 });
    const own = new ParzenEstimator([real], [[0.3], [0.7]], [1, 1], { priorWeight: 1, multivariate: false });
    const narrow = new ParzenEstimator([real], [[0.3], [0.7]], [1, 1], { priorWeight: 1, multivariate: false, bandwidths: [[0.01], [0.01]] });
    // Own rule: gaps 0.2 / 0.4 clipped to 1/3; given 0.01: a sharp peak at 0.3 and a trough between.
    assert.ok(narrow.logPdf([0.3]) > own.logPdf([0.3]) + 2);
    assert.ok(narrow.logPdf([0.5]) < own.logPdf([0.5]) - 0.5);
    let integral = 0;
    for (let i = 0; i < 100000; i++) integral += Math.exp(narrow.logPdf([(i + 0.5) / 100000])) / 100000;
    close(integral, 1, 1e-3, 'integral with given bandwidths');
  });

  it('samples stay in range, integers on whole values, and concentrate near the observations', () => {
    const int = dimOf({ type: 'int', low: 32, high: 512, log: true });
    const real = dimOf({ type: 'uniform', low: 0, high: 1 });
    const pe = new ParzenEstimator([int, real], [[Math.log(64), 0.2], [Math.log(70), 0.25]], [1, 1], { priorWeight: 1, multivariate: true });
    const rng = new FastRng(5);
    let near = 0;
    for (let i = 0; i < 500; i++) {
      const [a, b] = pe.sample(rng);
      const v = Math.exp(a!);
      assert.ok(Number.isInteger(Math.round(v)) && Math.abs(v - Math.round(v)) < 1e-9 && v >= 32 && v <= 512);
      assert.ok(b! >= 0 && b! <= 1);
      if (b! < 0.5 && v < 140) near++;
    }
    // uniform sampling would put about 27% (135) there; two of three components sit there
    assert.ok(near > 200, `near ${near}`);
  });
});
