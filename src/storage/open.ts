import { StorageError } from '../errors.js';
import { RetryingStorage, type RetryOptions } from './retry.js';
import { SqliteStorage } from './sqlite.js';
import type { Storage } from './storage.js';

/** Where results are kept unless told otherwise: a SQLite file in the working directory. */
export const DEFAULT_STORAGE = './hpo.db';

export interface OpenOptions {
  /**
   * Open for reading only: nothing is created or migrated, and every write fails.
   * A SQLite file must already exist. Default false.
   */
  readonly readOnly?: boolean;
  /**
   * Retry transient failures (see RetryingStorage) once the storage is open. Opening itself
   * is not retried: a wrong URL or a server that is down at start is one error at once.
   */
  readonly retry?: RetryOptions;
}

/**
 * Open the storage a URL names:
 * - `postgres://...` or `postgresql://...` -> PostgreSQL (tables in the first schema of the
 *   connection's search_path; set it with `?options=-c%20search_path%3Dmyschema`);
 * - `sqlite:path`, `sqlite://path` or a plain file path -> SQLite (the directory must exist;
 *   the file is created unless readOnly).
 * The schema is created or migrated on first open.
 * @throws StorageError with a one-line message for a bad URL, an unreachable server, a
 *   missing directory, a file that is not a database, a schema from a newer release.
 */
export async function openStorage(url: string, opts: OpenOptions = {}): Promise<Storage> {
  const readOnly = opts.readOnly ?? false;
  const path = sqlitePath(url);
  // The pg driver loads only for a PostgreSQL URL (about 70 ms at every start otherwise).
  const s = path === undefined ? await (await import('./postgres.js')).PostgresStorage.open(url, { readOnly }) : SqliteStorage.open(path, { readOnly });
  return opts.retry === undefined ? s : new RetryingStorage(s, opts.retry);
}

/**
 * The file a storage URL names, or undefined for a PostgreSQL URL.
 * @throws StorageError for an empty URL or an unsupported scheme.
 */
export function sqlitePath(url: string): string | undefined {
  if (typeof url !== 'string' || url.trim() === '') throw new StorageError('no storage given (expected a file path, sqlite:path or postgres://...)');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return undefined;
  if (scheme === 'sqlite') return url.replace(/^sqlite:(\/\/)?/i, '');
  // One-letter "schemes" are Windows drive letters; anything else unknown is a mistake.
  if (scheme !== undefined && scheme.length > 1 && /^[a-z]+:\/\//i.test(url)) {
    throw new StorageError(`unsupported storage URL scheme "${scheme}:" (expected a file path, sqlite:path or postgres://...)`);
  }
  return url;
}
