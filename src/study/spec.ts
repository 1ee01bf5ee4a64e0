/**
 * What defines a study, from the options a caller gives (library or CLI) and, on resume, the
 * stored study: every option left out takes the stored value, so `openStudy({ storage, name })`
 * reopens any study exactly as it was created.
 */
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { createSampler } from '../samplers/registry.js';
import { createScheduler, schedulerName } from '../schedulers/registry.js';
import type { Scheduler } from '../schedulers/scheduler.js';
import { parseSpace, type SearchSpace } from '../space/distribution.js';
import type { StudySpec } from '../storage/storage.js';
import { getModel } from '../training/models/index.js';
import type { ObjectiveFn } from '../training/objective.js';

/** The built-in objective: a model trained on Fashion-MNIST, validation error per epoch. */
export const BUILTIN_OBJECTIVE = 'fashion-mnist';
/** Prefix of the stored objective of a study whose objective is an in-process function. */
export const FUNCTION_OBJECTIVE_PREFIX = 'function:';

/** Options that define a study (fixed at creation; a resume must agree with them). */
export interface StudyDefinition {
  /**
   * `'fashion-mnist'` (built-in models), the path of an ES module whose default (or `objective`)
   * export is `async (config, ctx) => number` — run in the worker threads — or a function run
   * in-process (cheap objectives; stored as `function:<name>`, so pass the same function to
   * resume). Default: the stored objective, else `'fashion-mnist'`.
   */
  readonly objective?: string | ObjectiveFn | undefined;
  /** Built-in model of `'fashion-mnist'`: softmax, mlp or lenet. Default: stored, else softmax. */
  readonly model?: string | undefined;
  /**
   * The search space (object form or short strings, e.g. `{ learning_rate: loguniform(0.01, 1) }`).
   * Default: stored, else the model's built-in space; required for a user objective.
   */
  readonly space?: SearchSpace | Readonly<Record<string, unknown>> | undefined;
  /** Study seed: same seed, same configs. Default: stored, else random (and stored). */
  readonly seed?: number | undefined;
  /** Epochs per trial (fifo) or r_max (early-stopping schedulers). Default: stored, else the model's (10 for others). */
  readonly epochs?: number | undefined;
  /** Train on the first N of the 60k training images (built-in objective). */
  readonly trainSubset?: number | undefined;
  /** fifo, sh / successive-halving, asha, hyperband. Default: stored, else fifo. */
  readonly scheduler?: string | undefined;
  /** r_min, the first rung of an early-stopping scheduler. Default: stored, else min(2, epochs). */
  readonly minEpochs?: number | undefined;
  /** Reduction factor of an early-stopping scheduler. Default: stored, else 2. */
  readonly eta?: number | undefined;
  /** Config sampler. Default: stored, else random. */
  readonly sampler?: string | undefined;
}

/** A positive integer option, or undefined. @throws UsageError naming the option. */
export function checkPositiveInt(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UsageError(`${name} must be an integer >= 1, got ${String(v)}`);
  return v;
}

/** The stored objective string for an option value. */
export function objectiveId(objective: string | ObjectiveFn): string {
  if (typeof objective === 'function') return `${FUNCTION_OBJECTIVE_PREFIX}${objective.name || 'anonymous'}`;
  if (objective === BUILTIN_OBJECTIVE) return objective;
  const path = resolve(objective);
  if (!existsSync(path)) throw new UsageError(`objective ${objective}: no such file (or use "${BUILTIN_OBJECTIVE}")`);
  return path;
}

/**
 * The spec of a study from `def`, with every option left out taken from `stored` (resume) or
 * from the defaults. Does not check agreement with `stored` (see checkCompatible).
 * @throws UsageError / SpaceError for a bad option.
 */
export function buildSpec(name: string, def: StudyDefinition, stored: StudySpec | undefined): StudySpec {
  if (typeof name !== 'string' || !name.trim()) throw new UsageError('the study name must not be empty');
  if (def.objective === undefined && stored?.objective.startsWith(FUNCTION_OBJECTIVE_PREFIX)) {
    throw new UsageError(`study "${name}" was created with an in-process objective (${stored.objective}); pass that function as the objective to continue it`);
  }
  const objective = def.objective !== undefined ? objectiveId(def.objective) : (stored?.objective ?? BUILTIN_OBJECTIVE);
  const builtin = objective === BUILTIN_OBJECTIVE;
  if (!builtin && def.model !== undefined) throw new UsageError(`model applies to the ${BUILTIN_OBJECTIVE} objective only`);
  const model = builtin ? (def.model ?? (stored?.objective === BUILTIN_OBJECTIVE ? stored.model : null) ?? 'softmax') : null;
  const info = model !== null ? getModel(model) : undefined;
  let space: SearchSpace;
  if (def.space !== undefined) space = parseSpace(def.space);
  else if (stored && stored.objective === objective && stored.model === model) space = stored.space;
  else if (info) space = info.defaultSpace;
  else throw new UsageError('a user objective needs a search space');

  const scheduler = (def.scheduler === undefined ? undefined : schedulerName(def.scheduler)) ?? (stored?.settings['scheduler'] as string | undefined) ?? 'fifo';
  const pick = (value: number | undefined, key: string, dflt: number | undefined): number | undefined =>
    value ?? (stored?.settings[key] as number | undefined) ?? dflt;
  checkPositiveInt('epochs', def.epochs);
  checkPositiveInt('trainSubset', def.trainSubset);
  checkPositiveInt('minEpochs', def.minEpochs);
  if (def.trainSubset !== undefined && def.trainSubset > 60000) throw new UsageError('trainSubset must be at most 60000');
  const fifo = scheduler === 'fifo';
  if (fifo && (def.minEpochs !== undefined || def.eta !== undefined)) {
    throw new UsageError('minEpochs and eta apply to the sh, asha and hyperband schedulers');
  }
  const settings: Record<string, unknown> = {
    epochs: pick(def.epochs, 'epochs', fifo ? (info?.defaults.epochs ?? 10) : 10)!,
    trainSubset: pick(def.trainSubset, 'trainSubset', undefined) ?? null,
    scheduler,
    sampler: def.sampler ?? (stored?.settings['sampler'] as string | undefined) ?? 'random',
  };
  if (!fifo) {
    settings['minEpochs'] = pick(def.minEpochs, 'minEpochs', Math.min(2, settings['epochs'] as number))!;
    settings['eta'] = pick(def.eta, 'eta', 2)!;
  }
  let seed = def.seed ?? stored?.seed;
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0)) throw new UsageError(`seed must be a non-negative integer, got ${seed}`);
  seed ??= randomInt(0, 2 ** 31);
  const spec: StudySpec = { name, objective, model, space, settings, seed };
  // Validate the scheduler and sampler options before anything is written.
  schedulerFor(spec, 1);
  createSampler(String(settings['sampler']));
  return spec;
}

/** The scheduler a study's settings name, for a budget of `trials`. @throws UsageError */
export function schedulerFor(spec: StudySpec, trials: number): Scheduler {
  return createScheduler(String(spec.settings['scheduler']), {
    maxEpochs: spec.settings['epochs'] as number,
    minEpochs: (spec.settings['minEpochs'] as number | undefined) ?? 1,
    eta: (spec.settings['eta'] as number | undefined) ?? 2,
    maxTrials: trials,
  });
}
