import { StudyMismatchError } from '../errors.js';
import { spaceToJson } from '../space/distribution.js';
import type { Storage, StudyRecord, StudySpec } from '../storage/storage.js';

/** Settings that change what a trial computes; a resumed study must keep them. */
export const DEFINING_SETTINGS = ['epochs', 'trainSubset', 'scheduler', 'minEpochs', 'eta', 'sampler'] as const;

function show(v: unknown): string {
  return v === undefined || v === null ? 'none' : typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Create the study, or check that the existing one was created with the same objective,
 * model, space, seed and defining settings.
 * @throws StudyMismatchError naming the first difference.
 */
export async function ensureStudy(storage: Storage, spec: StudySpec): Promise<{ study: StudyRecord; created: boolean }> {
  const res = await storage.createStudy(spec);
  if (!res.created) checkCompatible(res.study, spec);
  return res;
}

/**
 * @throws StudyMismatchError when `spec` differs from the stored study in objective, model,
 * space, seed or a defining setting.
 */
export function checkCompatible(s: StudyRecord, spec: StudySpec): void {
  const refuse = (what: string, was: unknown, now: unknown): never => {
    throw new StudyMismatchError(
      `study "${s.name}" was created with ${what} ${show(was)}; refusing to continue it with ${what} ${show(now)} (use a new --study name)`,
    );
  };
  if (s.objective !== spec.objective) refuse('objective', s.objective, spec.objective);
  if (s.model !== spec.model) refuse('model', s.model, spec.model);
  if (spaceToJson(s.space) !== spaceToJson(spec.space)) refuse('search space', spaceToJson(s.space), spaceToJson(spec.space));
  if (s.seed !== spec.seed) refuse('seed', s.seed, spec.seed);
  for (const k of DEFINING_SETTINGS) {
    if (JSON.stringify(s.settings[k] ?? null) !== JSON.stringify(spec.settings[k] ?? null)) refuse(k, s.settings[k], spec.settings[k]);
  }
}
