/** Writing the report file: atomically, so a browser or a copy never sees half a page. */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HpoError, errorMessage } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { gatherReportData } from './data.js';
import { renderReport } from './html.js';

/** Write `text` to `path` through a temporary file in the same directory and a rename. */
export function writeFileAtomic(path: string, text: string): void {
  const abs = resolve(path);
  const dir = dirname(abs);
  const tmp = join(dir, `.${basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, abs);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the directory itself is unusable: nothing was left in it
    }
    throw new HpoError(`cannot write the report to ${abs}: ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * Read study `studyName` through `storage` and write its HTML report to `outPath`
 * (replaced atomically). Returns the file's size in bytes.
 * @throws UsageError if there is no such study; HpoError if the file cannot be written.
 */
export async function writeReport(storage: Storage, studyName: string, outPath: string): Promise<{ path: string; bytes: number; trials: number }> {
  const data = await gatherReportData(storage, studyName);
  const html = renderReport(data);
  writeFileAtomic(outPath, html);
  return { path: resolve(outPath), bytes: Buffer.byteLength(html), trials: data.trials.length };
}
