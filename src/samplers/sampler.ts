import type { Params, SearchSpace } from '../space/distribution.js';

/**
 * Proposes configurations. A sampler must be a pure function of (space, study seed,
 * trial number) plus whatever it reads from storage, never of thread timing: trial k
 * gets the same config whichever process or thread claims it, and on every resume.
 */
export interface Sampler {
  readonly name: string;
  sample(space: SearchSpace, studySeed: number, trialNumber: number): Params;
}
