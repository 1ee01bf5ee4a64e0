import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectedImprovement, fitHyper, GaussianProcess, matern52, negLogLik } from '../../src/samplers/gaussian-process.js';
import { cholesky, cholInverse, cholLogDet, cholSolve } from '../../src/samplers/linalg.js';
import { GpSampler } from '../../src/samplers/gp-sampler.js';
import { parseSpace } from '../../src/space/distribution.js';
import { UsageError } from '../../src/errors.js';

const close = (a: number, b: number, tol: number, what = ''): void => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

describe('linear algebra', () => {
  const a = Float64Array.from([4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]);
  it('Cholesky reproduces A, solves, inverts, log-determinant', () => {
    const l = cholesky(a, 3)!;
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += l[i * 3 + k]! * l[j * 3 + k]!;
        close(s, a[i * 3 + j]!, 1e-12);
      }
    const x = cholSolve(l, 3, [1, 2, 3]);
    for (let i = 0; i < 3; i++) close(a[i * 3]! * x[0]! + a[i * 3 + 1]! * x[1]! + a[i * 3 + 2]! * x[2]!, i + 1, 1e-12);
    const inv = cholInverse(l, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += a[i * 3 + k]! * inv[k * 3 + j]!;
        close(s, i === j ? 1 : 0, 1e-12);
      }
    // det = 4(15-1) - 2(6-0.4) + 0.4(2-2) = 44.8
    close(cholLogDet(l, 3), Math.log(44.8), 1e-12);
  });
  it('refuses a matrix that is not positive definite', () => {
    assert.equal(cholesky(Float64Array.from([1, 2, 2, 1]), 2), null);
  });
});

describe('Gaussian process and expected improvement', () => {
  it('Matern 5/2 and EI at known points', () => {
    close(matern52(0), 1, 1e-15);
    close(matern52(1), (1 + Math.sqrt(5) + 5 / 3) * Math.exp(-Math.sqrt(5)), 1e-15);
    const table: [number, number, number, number][] = [
      // mean, sd, best, EI
      [0, 1, 0, 0.398942280], // sd * phi(0)
      [1, 1e-12, 0, 0],
      [-1, 0, 0, 1],
      [0.5, 2, 0, 2 * 0.386668117 - 0.5 * 0.401293674], // (b-m)Phi(z)+sd phi(z), z = -0.25
    ];
    for (const [m, sd, best, ei] of table) close(expectedImprovement(m, sd, best), ei, 1e-6, `EI(${m}, ${sd})`);
  });

  it('the likelihood gradient matches finite differences', () => {
    const x = [[0.1, 0.2], [0.4, 0.9], [0.8, 0.3], [0.5, 0.5], [0.95, 0.05]].map((r) => Float64Array.from(r));
    const y = Float64Array.from([0.3, -1, 1.2, 0.1, -0.4]);
    const h = { logLen: [Math.log(0.4), Math.log(0.7)], logSignal: 0.2, logNoise: Math.log(0.05) };
    const { grad } = negLogLik(x, y, h);
    const theta = [...h.logLen, h.logSignal, h.logNoise];
    const f = (t: number[]): number => negLogLik(x, y, { logLen: t.slice(0, 2), logSignal: t[2]!, logNoise: t[3]! }).value;
    theta.forEach((_, i) => {
      const e = 1e-6;
      const up = [...theta];
      const dn = [...theta];
      up[i]! += e;
      dn[i]! -= e;
      close(grad[i]!, (f(up) - f(dn)) / (2 * e), 1e-5, `dtheta[${i}]`);
    });
  });

  it('interpolates a smooth function and is unsure far from the data', () => {
    const xs = [0, 0.2, 0.4, 0.6, 0.8, 1].map((v) => Float64Array.from([v]));
    const y = Float64Array.from(xs.map((v) => Math.sin(6 * v[0]!)));
    const gp = new GaussianProcess(xs, y, fitHyper(xs, y, 1));
    const p = gp.predict([0.5]);
    close(p.mean, Math.sin(3), 0.1);
    assert.ok(gp.predict([0.4]).sd < gp.predict([0.5]).sd);
  });

  it('the GP sampler refuses categorical and conditional spaces with one line', () => {
    const s = new GpSampler();
    assert.throws(() => s.check(parseSpace({ a: 'categorical(["x", "y"])' })), (e: unknown) => e instanceof UsageError && /"a" is categorical/.test(e.message));
    assert.throws(() => s.check(parseSpace({ n: 'int(1, 3)', w: { type: 'int', low: 1, high: 4, when: { n: { min: 2 } } } })), /has "when"/);
  });
});
