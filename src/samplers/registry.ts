import { UsageError } from '../errors.js';
import { GpSampler } from './gp-sampler.js';
import { RandomSampler } from './random-sampler.js';
import type { Sampler } from './sampler.js';
import { TpeSampler } from './tpe-sampler.js';

/** What the study tells a sampler about how trials are run. */
export interface SamplerContext {
  /**
   * True with an early-stopping scheduler (sh, asha, hyperband): model-based samplers then
   * learn from rung results, not only final values.
   */
  readonly fidelity?: boolean;
}

const SAMPLERS: Record<string, (ctx: SamplerContext) => Sampler> = {
  random: () => new RandomSampler(),
  tpe: (ctx) => new TpeSampler({ fidelity: ctx.fidelity ?? false }),
  // Joint kernels as wide as half the larger neighbour gap in each dimension: the best of the
  // bandwidths tried on Branin and Hartmann-6 (native-bench/search-quality.mjs).
  'tpe-multivariate': (ctx) =>
    new TpeSampler({ multivariate: true, jointBandwidth: 'neighbour', bandwidthScale: 0.5, fidelity: ctx.fidelity ?? false }),
  gp: (ctx) => new GpSampler({ fidelity: ctx.fidelity ?? false }),
};

export const SAMPLER_NAMES = Object.keys(SAMPLERS);

/** @throws UsageError for an unknown name. */
export function createSampler(name: string, ctx: SamplerContext = {}): Sampler {
  const make = SAMPLERS[name];
  if (!make) throw new UsageError(`unknown sampler "${name}" (available: ${SAMPLER_NAMES.join(', ')})`);
  return make(ctx);
}
