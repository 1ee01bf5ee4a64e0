/**
 * Typed builders for search spaces in TypeScript:
 * `{ learning_rate: loguniform(1e-3, 1), units: int(32, 512, { log: true }), act: categorical(['relu', 'tanh']) }`.
 * Each validates its arguments at once (the parameter name is not known yet, so errors
 * name the distribution; parseSpace checks the whole space again with names).
 */
import { parseDistribution, type Choice, type Distribution } from './distribution.js';

const check = (d: Distribution): Distribution => parseDistribution('value', d);

/** Uniform on a log scale over [low, high], low > 0. @throws SpaceError */
export function loguniform(low: number, high: number): Distribution {
  return check({ type: 'loguniform', low, high });
}

/** Uniform over [low, high]. @throws SpaceError */
export function uniform(low: number, high: number): Distribution {
  return check({ type: 'uniform', low, high });
}

/** Integers low..high inclusive, uniform, or uniform on a log scale with `{ log: true }`. @throws SpaceError */
export function int(low: number, high: number, opts: { log?: boolean } = {}): Distribution {
  return check(opts.log ? { type: 'int', low, high, log: true } : { type: 'int', low, high });
}

/** One of `choices` (strings, finite numbers or booleans), uniformly. @throws SpaceError */
export function categorical(choices: readonly Choice[]): Distribution {
  return check({ type: 'categorical', choices });
}
