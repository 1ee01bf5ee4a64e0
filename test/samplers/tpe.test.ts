import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { History, Observation } from '../../src/samplers/history.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import type { Sampler } from '../../src/samplers/sampler.js';
import { scoreHistory } from '../../src/samplers/scoring.js';
import { sharedBandwidths, TpeSampler } from '../../src/samplers/tpe-sampler.js';
import { dimOf } from '../../src/samplers/encoding.js';
import { parseSpace, type Params } from '../../src/space/distribution.js';

const branin = (p: Params): number => {
  const x1 = p['x1'] as number;
  const x2 = p['x2'] as number;
  return (x2 - (5.1 / (4 * Math.PI ** 2)) * x1 * x1 + (5 / Math.PI) * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
};
const braninSpace = parseSpace({ x1: 'uniform(-5, 10)', x2: 'uniform(0, 15)' });

function run(s: Sampler, seed: number, budget: number): number {
  const trials: Observation[] = [];
  let best = Infinity;
  for (let k = 1; k <= budget; k++) {
    const params = s.sample(braninSpace, seed, k, { trials });
    const v = branin(params);
    best = Math.min(best, v);
    trials.push({ number: k, state: 'completed', params, value: v, reports: [] });
  }
  return best - 0.397887;
}

describe('TPE', () => {
  it('beats random search on Branin at 60 trials on at least 10 of 12 seeds, and in median', () => {
    // Random search's median regret here is about 0.7; TPE's about 0.15. If both were
    // equally good, winning 10 of 12 paired seeds would have probability 0.02; with a median
    // at most a third of random's as well, this cannot pass by accident.
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const tpe = seeds.map((s) => run(new TpeSampler(), s, 60));
    const rnd = seeds.map((s) => run(new RandomSampler(), s, 60));
    const wins = seeds.filter((_, i) => tpe[i]! < rnd[i]!).length;
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length / 2]!;
    assert.ok(wins >= 10, `TPE won ${wins} of 12: ${tpe.map((v) => v.toFixed(3))} vs ${rnd.map((v) => v.toFixed(3))}`);
    assert.ok(med(tpe) <= med(rnd) / 3, `median ${med(tpe)} vs ${med(rnd)}`);
  });

  it('shared kernels: each trial gets its neighbour gap among good and bad trials together', () => {
    const x = dimOf({ type: 'uniform', low: 0, high: 10 });
    const c = dimOf({ type: 'categorical', choices: ['a', 'b'] });
    // x values: good 1, 6; bad 2, 9 -> sorted with the prior mean 5: 1 2 5 6 9; 4 points, clip 10 / 5 = 2.
    const [good, bad] = sharedBandwidths([x, c], [[1, 0], [6, 1]], [[2, 0], [9, 1]]);
    assert.deepEqual(good.map((r) => r[0]), [2, 3]); // 1: inner gap 1 -> clipped 2; 6: max(1, 3)
    assert.deepEqual(bad.map((r) => r[0]), [3, 3]); // 2: max(1, 3); 9: inner gap 3
    assert.ok([...good, ...bad].every((r) => Number.isNaN(r[1]))); // categorical dims keep their own kernels
  });

  it('shared kernels beat per-group kernels on Branin at 100 trials (median over 12 seeds, 3x or more)', () => {
    // Per-group kernels: median regret about 0.04 here; shared: about 0.002 (RESULTS.md has
    // 100 seeds). A 3x margin on 12 paired seeds cannot come from noise at these spreads.
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length / 2]!;
    const shared = med(seeds.map((s) => run(new TpeSampler(), s, 100)));
    const own = med(seeds.map((s) => run(new TpeSampler({ sharedKernels: false }), s, 100)));
    assert.ok(shared * 3 <= own, `shared ${shared} vs own ${own}`);
  });

  it('uses random search until n_startup trials have finished', () => {
    const tpe = new TpeSampler({ nStartup: 5 });
    const random = new RandomSampler();
    const trials: Observation[] = [];
    for (let k = 1; k <= 5; k++) {
      assert.deepEqual(tpe.sample(braninSpace, 3, k, { trials }), random.sample(braninSpace, 3, k));
      const params = random.sample(braninSpace, 3, k);
      trials.push({ number: k, state: 'completed', params, value: branin(params), reports: [] });
    }
    assert.notDeepEqual(tpe.sample(braninSpace, 3, 6, { trials }), random.sample(braninSpace, 3, 6));
  });

  it('proposes near the good trials: a sharp minimum at x = 0.7 attracts the samples', () => {
    const space = parseSpace({ x: 'uniform(0, 1)', c: 'categorical(["a", "b", "c"])' });
    const f = (p: Params): number => Math.abs((p['x'] as number) - 0.7) + (p['c'] === 'b' ? 0 : 0.5);
    const s = new TpeSampler();
    const trials: Observation[] = [];
    for (let k = 1; k <= 60; k++) {
      const params = s.sample(space, 4, k, { trials });
      trials.push({ number: k, state: 'completed', params, value: f(params), reports: [] });
    }
    const late = trials.slice(40);
    const nearX = late.filter((t) => Math.abs((t.params['x'] as number) - 0.7) < 0.1).length;
    const b = late.filter((t) => t.params['c'] === 'b').length;
    assert.ok(nearX >= 12, `near x: ${nearX} of 20`); // uniform: 4 of 20
    assert.ok(b >= 12, `c = b: ${b} of 20`); // uniform: ~7 of 20
  });

  it('constant liar: a running trial makes the next proposal move away from it', () => {
    const space = parseSpace({ x: 'uniform(0, 1)' });
    const trials: Observation[] = [];
    for (let k = 1; k <= 20; k++) trials.push({ number: k, state: 'completed', params: { x: k / 21 }, value: Math.abs(k / 21 - 0.5), reports: [] });
    const s = new TpeSampler();
    const alone = s.sample(space, 1, 22, { trials }) ['x'] as number;
    const liar: History = { trials: [...trials, { number: 21, state: 'running', params: { x: alone }, value: null, reports: [] }] };
    const next = s.sample(space, 1, 22, liar)['x'] as number;
    assert.notEqual(next, alone);
  });

  it('multi-fidelity: scores come from the highest epoch with enough results', () => {
    const obs = (number: number, state: Observation['state'], reports: [number, number][]): Observation => ({
      number,
      state,
      params: { x: number },
      value: reports.at(-1)?.[1] ?? null,
      reports,
    });
    const h: History = {
      trials: [
        obs(1, 'completed', [[1, 0.5], [2, 0.4], [4, 0.3]]),
        obs(2, 'pruned', [[1, 0.9]]),
        obs(3, 'pruned', [[1, 0.6], [2, 0.55]]),
        obs(4, 'running', [[1, 0.45], [2, 0.35]]),
        obs(5, 'running', []),
      ],
    };
    const at2 = scoreHistory(h, { fidelity: true, minPerRung: 3 });
    assert.equal(at2.epoch, 2);
    assert.deepEqual(at2.scored.map((t) => [t.number, t.score]), [[1, 0.4], [3, 0.55], [4, 0.35]]);
    assert.deepEqual(at2.bad.map((t) => t.number), [2, 5]);
    assert.equal(scoreHistory(h, { fidelity: true, minPerRung: 1 }).epoch, 4);
    const final = scoreHistory(h, { fidelity: false, minPerRung: 3 });
    assert.equal(final.epoch, null);
    assert.deepEqual(final.scored.map((t) => t.number), [1]);
    assert.deepEqual(final.bad.map((t) => t.number), [2, 3, 4, 5]);
  });

  it('conditional: a child is modelled only from trials where it was active', () => {
    const space = parseSpace({
      n: 'int(1, 2)',
      w: { type: 'uniform', low: 0, high: 1, when: { n: 2 } },
    });
    // Good trials have n = 2 and w near 0.2.
    const trials: Observation[] = [];
    const random = new RandomSampler();
    for (let k = 1; k <= 40; k++) {
      const params = random.sample(space, 8, k);
      const v = params['n'] === 2 ? Math.abs((params['w'] as number) - 0.2) : 1;
      trials.push({ number: k, state: 'completed', params, value: v, reports: [] });
    }
    for (const mv of [false, true]) {
      const s = new TpeSampler({ multivariate: mv });
      let nearW = 0;
      let two = 0;
      for (let k = 41; k <= 60; k++) {
        const p = s.sample(space, 2, k, { trials });
        if (p['n'] === 2) {
          two++;
          if (Math.abs((p['w'] as number) - 0.2) < 0.15) nearW++;
        } else assert.ok(!('w' in p));
      }
      assert.ok(two >= 15, `multivariate ${mv}: n = 2 in ${two} of 20`);
      assert.ok(nearW >= two / 2, `multivariate ${mv}: w near 0.2 in ${nearW} of ${two}`);
    }
  });
});
