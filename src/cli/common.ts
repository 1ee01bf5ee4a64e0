import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { openStorage, sqlitePath } from '../storage/open.js';
import type { Storage, StudyRecord } from '../storage/storage.js';

export { DEFAULT_STORAGE } from '../storage/open.js';

/**
 * Open storage for a command that only reads: a SQLite file that does not exist is an
 * error, not a new empty database.
 */
export async function openExisting(url: string): Promise<Storage> {
  const path = sqlitePath(url);
  if (path !== undefined && !existsSync(path)) throw new UsageError(`no storage at ${path} (run "hpo run" first, or pass --storage)`);
  return openStorage(url);
}

/** The named study, or the only one if no name is given. */
export async function findStudy(storage: Storage, name: string | undefined): Promise<StudyRecord> {
  if (name !== undefined) {
    const s = await storage.getStudy(name);
    if (s) return s;
    const names = (await storage.listStudies()).map((x) => x.name);
    throw new UsageError(`no study "${name}" in ${storage.location}${names.length ? ` (studies: ${names.join(', ')})` : ' (it has no studies)'}`);
  }
  const all = await storage.listStudies();
  if (all.length === 1) {
    const s = await storage.getStudy(all[0]!.name);
    if (s) return s;
  }
  if (all.length === 0) throw new UsageError(`${storage.location} has no studies yet (run "hpo run" first)`);
  throw new UsageError(`${storage.location} holds several studies; pick one with --study (${all.map((x) => x.name).join(', ')})`);
}

/** Run `fn` with storage open, closing it whatever happens. */
export async function withStorage<T>(url: string, fn: (s: Storage) => Promise<T>, opts: { mustExist?: boolean } = {}): Promise<T> {
  const storage = opts.mustExist === false ? await openStorage(url) : await openExisting(url);
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

export function positiveInt(name: string, v: unknown, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

/** The text of a file named by an option. @throws UsageError naming the option when it cannot be read. */
export function readConfigFile(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${option} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read it (${code ?? String(e)})`}`);
  }
}
