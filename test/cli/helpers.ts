import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
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

/**
 * Start `hpo` with `args` and kill -9 it as soon as `ready()` (polled every `pollMs`) says so;
 * `ready` may throw while the database at `db` is not created yet. Fails the test if that
 * does not happen within `timeoutMs`. Resolves once the process has exited.
 */
export async function killWhen(args: readonly string[], db: string, ready: () => boolean, opts: { pollMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const child = hpoAsync(args);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + (opts.timeoutMs ?? 150_000);
  for (;;) {
    await new Promise((res) => setTimeout(res, opts.pollMs ?? 100));
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`study did not progress: ${stderr}`);
    }
    if (!existsSync(db)) continue;
    try {
      if (ready()) break;
    } catch {
      continue; // schema not created yet
    }
  }
  child.kill('SIGKILL');
  await once(child, 'exit');
}
