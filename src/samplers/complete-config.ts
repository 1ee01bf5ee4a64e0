import { Rng, deriveSeed } from '../random.js';
import { isActive, type Params, type SearchSpace } from '../space/distribution.js';
import { sampleOne } from './random-sampler.js';

/**
 * An enqueued (possibly partial) config made whole: the fixed values, the sampler's values
 * for the other active parameters, and for a parameter that only the fixed values made
 * active (so the sampler did not propose it) a random draw from the trial's own stream.
 * Parameters inactive under the final values are left out.
 */
export function completeConfig(space: SearchSpace, fixed: Params, sampled: Params, studySeed: number, trialNumber: number): Params {
  const out: Params = {};
  for (const [name, d] of Object.entries(space)) {
    if (!isActive(d, out)) continue;
    const v = fixed[name] ?? sampled[name];
    out[name] = v ?? sampleOne(d, new Rng(deriveSeed(studySeed, 'param', trialNumber, name)));
  }
  return out;
}
