/**
 * Enqueued configs: fixed configs (a warm start, a known good config to re-run) that the
 * next new trial numbers take before any is sampled. Validated against the study's space;
 * parameters left out are sampled for that trial (see completeConfig).
 *
 * Two ways in: `hpo enqueue` / Study.enqueue queue what they are given, every time; `hpo run
 * --enqueue FILE` / openStudy({ enqueue }) queue each config once per study. The rule for
 * the latter: a config is identified by its validated parameter values (key order ignored)
 * and by which occurrence of those values it is in the call (the first, the second, ...);
 * an identity the study has already queued through --enqueue is skipped, even if that
 * config has run since. So re-running the same command, e.g. to resume, queues nothing
 * again; adding a config to the file queues only the new one; listing a config twice runs
 * it twice, once per listing.
 */
import { SpaceError, UsageError } from '../errors.js';
import { checkParams, type Params, type SearchSpace } from '../space/distribution.js';
import type { EnqueueItem, EnqueueResult, Storage, StudyRecord } from '../storage/storage.js';

/** What a config is checked against: the study's name (for messages) and space. */
export interface ConfigTarget {
  readonly name: string;
  readonly space: SearchSpace;
}

/**
 * A config (an object, or its JSON text) checked against the study's space.
 * @throws UsageError for JSON that is not an object; SpaceError naming the offending parameter.
 */
export function parseConfig(study: ConfigTarget, raw: unknown): Params {
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

/**
 * The configs in a file's text: one JSON object, a JSON array of objects, or JSON lines (one
 * object per line; blank lines ignored). Entries are returned unvalidated.
 * @throws UsageError naming `source` (and the line, for JSON lines) when the text is not one of these.
 */
export function parseConfigsText(text: string, source: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new UsageError(`${source}: no config in it (expected a JSON object, an array of them, or one object per line)`);
  if (trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown[];
    } catch (e) {
      throw new UsageError(`${source}: not a valid JSON array (${(e as Error).message})`);
    }
  }
  // One object (possibly spread over lines), else JSON lines.
  try {
    return [JSON.parse(trimmed)];
  } catch {
    // fall through to JSON lines
  }
  const out: unknown[] = [];
  trimmed.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new UsageError(`${source} line ${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  });
  return out;
}

/**
 * Validate every config against the space (before anything is stored).
 * @throws UsageError naming `source`, the config (1-based, when there are several) and the problem.
 */
export function parseConfigs(study: ConfigTarget, configs: readonly unknown[], source = 'enqueue'): Params[] {
  if (!Array.isArray(configs)) throw new UsageError(`${source}: expected a list of configs`);
  return configs.map((c, i) => {
    try {
      return parseConfig(study, c);
    } catch (e) {
      const where = configs.length > 1 ? `${source}, config ${i + 1}: ` : `${source}: `;
      // A config that does not fit the space is a bad config, not a bad space: UsageError.
      if (e instanceof SpaceError || e instanceof UsageError) throw new UsageError(`${where}${e.message.replace(/^(search space|enqueue): /, '')}`);
      throw e;
    }
  });
}

/** Canonical text of a config: keys sorted, so key order does not make a different config. */
function canonical(p: Params): string {
  return JSON.stringify(Object.fromEntries(Object.entries(p).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** Keyed items for Storage.enqueueTrials: key = canonical values + '#' + occurrence in this call. */
export function keyedItems(params: readonly Params[]): EnqueueItem[] {
  const seen = new Map<string, number>();
  return params.map((p) => {
    const c = canonical(p);
    const n = (seen.get(c) ?? 0) + 1;
    seen.set(c, n);
    return { params: p, key: `${c}#${n}` };
  });
}

/** Validate `raw` against the study's space and queue it. Returns the params and how many configs now wait. */
export async function enqueueConfig(storage: Storage, study: StudyRecord, raw: unknown): Promise<{ params: Params; waiting: number }> {
  const params = parseConfig(study, raw);
  return { params, waiting: await storage.enqueueTrial(study.id, params) };
}

/** Queue validated configs once per study (see the rule at the top of this file). */
export function enqueueOnce(storage: Storage, study: StudyRecord, params: readonly Params[]): Promise<EnqueueResult> {
  return storage.enqueueTrials(study.id, keyedItems(params));
}
