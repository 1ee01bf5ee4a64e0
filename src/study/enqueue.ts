/**
 * Enqueued configs: fixed configs (a warm start, a known good config to re-run) that the
 * next new trial numbers take before any is sampled. Validated against the study's space;
 * parameters left out are sampled for that trial (see completeConfig).
 */
import { SpaceError, UsageError } from '../errors.js';
import { checkParams, type Params } from '../space/distribution.js';
import type { Storage, StudyRecord } from '../storage/storage.js';

/**
 * Validate `raw` (an object, or its JSON text) against the study's space and queue it.
 * Returns the validated params and how many configs now wait.
 * @throws UsageError for JSON that is not an object; SpaceError naming the offending parameter.
 */
/**
 * A config (an object, or its JSON text) checked against the study's space.
 * @throws UsageError for JSON that is not an object; SpaceError naming the offending parameter.
 */
export function parseConfig(study: StudyRecord, raw: unknown): Params {
  let obj = raw;
  if (typeof raw === 'string') {
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new UsageError(`enqueue: not valid JSON: ${raw.length > 60 ? raw.slice(0, 57) + '...' : raw} (${(e as Error).message})`);
    }
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new UsageError('enqueue: a config is a JSON object of parameter values, e.g. {"learning_rate": 0.1}');
  }
  try {
    return checkParams(study.space, obj as Record<string, unknown>, { partial: true });
  } catch (e) {
    if (e instanceof SpaceError) throw new SpaceError(e.param, `${e.message.replace(/^search space: (parameter "[^"]*": )?/, '')} (study "${study.name}")`);
    throw e;
  }
}

/** Validate `raw` against the study's space and queue it. Returns the params and how many configs now wait. */
export async function enqueueConfig(storage: Storage, study: StudyRecord, raw: unknown): Promise<{ params: Params; waiting: number }> {
  const params = parseConfig(study, raw);
  return { params, waiting: await storage.enqueueTrial(study.id, params) };
}
