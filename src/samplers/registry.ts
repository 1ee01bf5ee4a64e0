import { UsageError } from '../errors.js';
import { RandomSampler } from './random-sampler.js';
import type { Sampler } from './sampler.js';

const SAMPLERS: Record<string, () => Sampler> = {
  random: () => new RandomSampler(),
};

export const SAMPLER_NAMES = Object.keys(SAMPLERS);

/** @throws UsageError for an unknown name. */
export function createSampler(name: string): Sampler {
  const make = SAMPLERS[name];
  if (!make) throw new UsageError(`unknown sampler "${name}" (available: ${SAMPLER_NAMES.join(', ')})`);
  return make();
}
