import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** dist/src/cli/main.js, from dist/test/cli/. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Repository root (the test fixtures live in test/fixtures, not in dist). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = join(ROOT, 'test', 'fixtures');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function hpo(args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 180_000,
    env: { ...process.env, ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function hpoAsync(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The rows of one query on a SQLite study file, opened read-only around it. */
export function dbRows<T>(db: string, sql: string): T[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return conn.prepare(sql).all() as T[];
  } finally {
    conn.close();
  }
}

export function tempDb(prefix: string): string {
  return join(mkdtempSync(join(tmpdir(), `hpo-${prefix}-`)), 'study.db');
}

/** A user-facing error: non-zero exit, exactly one line on stderr, no stack trace. */
export function isOneLineError(r: CliResult): boolean {
  const lines = r.stderr.trim().split('\n');
  return r.code !== 0 && r.code !== null && lines.length === 1 && lines[0]!.startsWith('hpo: ') && !/\n\s+at /.test(r.stderr);
}
