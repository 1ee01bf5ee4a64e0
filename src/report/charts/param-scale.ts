/** The axis of one hyperparameter, from its distribution: log axes for log parameters. */
import type { Distribution } from '../../space/distribution.js';
import { bandScale, linearScale, logScale, type Scale } from '../scale.js';

export function paramScale(dist: Distribution | undefined, values: readonly unknown[], range: readonly [number, number]): Scale {
  if (dist === undefined || dist.type === 'categorical') {
    const choices = dist?.type === 'categorical' ? [...dist.choices] : [...new Set(values.map((v) => JSON.stringify(v)))].map((k) => JSON.parse(k) as unknown);
    return bandScale(choices, range);
  }
  const log = dist.type === 'loguniform' || (dist.type === 'int' && dist.log === true);
  // The space's bounds, widened to any stored value outside them (a space edited by hand).
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const lo = Math.min(dist.low, ...nums);
  const hi = Math.max(dist.high, ...nums);
  if (log && lo > 0) return logScale([lo, hi], range);
  return linearScale([lo, hi === lo ? lo + 1 : hi], range);
}

export function isLogParam(dist: Distribution | undefined): boolean {
  return dist !== undefined && (dist.type === 'loguniform' || (dist.type === 'int' && dist.log === true));
}
