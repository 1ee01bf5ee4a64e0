import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, deriveSeed } from '../../src/random.js';
import { RandomSampler, trialSeed } from '../../src/samplers/random-sampler.js';
import { createSampler } from '../../src/samplers/registry.js';
import { contains, parseSpace } from '../../src/space/distribution.js';

const space = parseSpace({
  learning_rate: 'loguniform(0.001, 1)',
  dropout: 'uniform(0, 0.5)',
  hidden: 'int(32, 512, log)',
  batch_size: 'int(32, 256)',
  activation: 'categorical(["relu", "tanh", "sigmoid"])',
});

describe('random sampler', () => {
  const s = new RandomSampler();

  it('is a pure function of (seed, trial number)', () => {
    for (let k = 1; k <= 50; k++) assert.deepEqual(s.sample(space, 7, k), new RandomSampler().sample(space, 7, k));
    // order of asking does not matter (thread timing, worker count, resume)
    const forward = [1, 2, 3, 4, 5].map((k) => s.sample(space, 7, k));
    const backward = [5, 4, 3, 2, 1].map((k) => s.sample(space, 7, k)).reverse();
    assert.deepEqual(forward, backward);
  });

  it('differs across seeds and trial numbers', () => {
    assert.notDeepEqual(s.sample(space, 7, 1), s.sample(space, 8, 1));
    assert.notDeepEqual(s.sample(space, 7, 1), s.sample(space, 7, 2));
    assert.notEqual(trialSeed(7, 1), trialSeed(7, 2));
    assert.equal(trialSeed(7, 3), trialSeed(7, 3));
  });

  it('adding a parameter leaves the others unchanged', () => {
    const bigger = parseSpace({ ...space, momentum: 'uniform(0, 1)' });
    const a = s.sample(space, 3, 9);
    const b = s.sample(bigger, 3, 9);
    for (const k of Object.keys(a)) assert.equal(b[k], a[k]);
  });

  it('stays inside each distribution and covers it', () => {
    const n = 4000;
    const seen = { lrLow: 0, lrHigh: 0, act: new Set<unknown>(), batch: new Set<unknown>() };
    for (let k = 1; k <= n; k++) {
      const p = s.sample(space, 11, k);
      for (const [name, d] of Object.entries(space)) assert.ok(contains(d, p[name]!), `${name}=${String(p[name])}`);
      const lr = p['learning_rate'] as number;
      if (lr < 0.01) seen.lrLow++;
      if (lr > 0.1) seen.lrHigh++;
      seen.act.add(p['activation']);
      seen.batch.add(p['batch_size']);
    }
    // log-uniform: each decade holds about a third of the mass
    assert.ok(Math.abs(seen.lrLow / n - 1 / 3) < 0.04, `P(lr<0.01)=${seen.lrLow / n}`);
    assert.ok(Math.abs(seen.lrHigh / n - 1 / 3) < 0.04, `P(lr>0.1)=${seen.lrHigh / n}`);
    assert.equal(seen.act.size, 3);
    assert.ok(seen.batch.has(32) && seen.batch.has(256));
  });

  it('registry picks by name and rejects unknown names', () => {
    assert.equal(createSampler('random').name, 'random');
    assert.equal(createSampler('tpe').name, 'tpe');
    assert.equal(createSampler('tpe-multivariate').name, 'tpe-multivariate');
    assert.equal(createSampler('gp').name, 'gp');
    assert.throws(() => createSampler('bayes'), /unknown sampler "bayes" \(available: random, tpe, tpe-multivariate, gp\)/);
  });
});

describe('seeded RNG', () => {
  it('is reproducible and roughly uniform', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const x = a.next();
      assert.equal(x, b.next());
      assert.ok(x >= 0 && x < 1);
      sum += x;
    }
    assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
  });
  it('derives distinct child seeds', () => {
    const seeds = new Set<number>();
    for (let k = 0; k < 1000; k++) seeds.add(deriveSeed(1, 'trial', k));
    assert.equal(seeds.size, 1000);
    assert.throws(() => deriveSeed(1.5), RangeError);
  });
});
