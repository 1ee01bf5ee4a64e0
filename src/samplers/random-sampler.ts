import { Rng, deriveSeed } from '../random.js';
import { isActive, type Distribution, type Params, type SearchSpace, type Choice } from '../space/distribution.js';
import type { Sampler } from './sampler.js';

/**
 * Independent random search. Each parameter of trial k draws from its own stream seeded
 * by (study seed, k, parameter name), so adding a parameter to a space leaves the others'
 * values unchanged.
 */
export class RandomSampler implements Sampler {
  readonly name = 'random';
  readonly needs = 'none' as const;
  sample(space: SearchSpace, studySeed: number, trialNumber: number): Params {
    const out: Params = {};
    for (const [name, d] of Object.entries(space)) {
      // Inactive parameters are left out (stored absent), not given a placeholder value.
      if (isActive(d, out)) out[name] = sampleOne(d, new Rng(deriveSeed(studySeed, 'param', trialNumber, name)));
    }
    return out;
  }
}

/** Draw one value of `d` from `rng`. */
export function sampleOne(d: Distribution, rng: Rng): Choice {
  switch (d.type) {
    case 'uniform':
      return d.low + rng.next() * (d.high - d.low);
    case 'loguniform': {
      const lo = Math.log(d.low);
      return Math.min(d.high, Math.exp(lo + rng.next() * (Math.log(d.high) - lo)));
    }
    case 'int': {
      if (!d.log) return rng.int(d.low, d.high);
      // Log-uniform over the real interval [low-0.5, high+0.5), rounded: every integer
      // gets the mass of its own rounding cell on the log scale.
      const lo = Math.log(Math.max(d.low - 0.5, d.low / 2));
      const hi = Math.log(d.high + 0.5);
      const v = Math.round(Math.exp(lo + rng.next() * (hi - lo)));
      return Math.min(d.high, Math.max(d.low, v));
    }
    case 'categorical':
      return d.choices[Math.floor(rng.next() * d.choices.length)]!;
  }
}

/** Per-trial seed handed to the objective (weight init, shuffling, dropout). */
export function trialSeed(studySeed: number, trialNumber: number): number {
  return deriveSeed(studySeed, 'trial', trialNumber);
}
