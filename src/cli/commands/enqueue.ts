/** hpo enqueue: put fixed configs at the head of a study's queue. */
import { readFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { parseConfig } from '../../study/enqueue.js';
import { findStudy, withStorage } from '../common.js';

export interface EnqueueArgs {
  storage: string;
  study?: string | undefined;
  configs?: string[] | undefined;
  file?: string | undefined;
}

/** JSON configs from the arguments and from --file (one object per line, or one JSON array). */
function configsFrom(a: EnqueueArgs): unknown[] {
  const out: unknown[] = [...(a.configs ?? [])];
  if (a.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(a.file, 'utf8');
    } catch (e) {
      throw new UsageError(`--file ${a.file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    const trimmed = text.trim();
    if (trimmed.startsWith('[')) {
      let arr: unknown;
      try {
        arr = JSON.parse(trimmed);
      } catch (e) {
        throw new UsageError(`--file ${a.file}: not valid JSON (${(e as Error).message})`);
      }
      out.push(...(arr as unknown[]));
    } else out.push(...trimmed.split('\n').filter((l) => l.trim() !== ''));
  }
  if (out.length === 0) throw new UsageError('enqueue: give at least one config, e.g. hpo enqueue --study s \'{"learning_rate": 0.1}\'');
  return out;
}

export async function enqueueCommand(a: EnqueueArgs): Promise<void> {
  const configs = configsFrom(a);
  await withStorage(a.storage, async (storage) => {
    const study = await findStudy(storage, a.study);
    // Validate every config before queueing any, so a bad one leaves the queue untouched.
    const params = configs.map((c) => parseConfig(study, c));
    let waiting = 0;
    for (const p of params) waiting = await storage.enqueueTrial(study.id, p);
    process.stdout.write(`study "${study.name}": ${configs.length} config(s) enqueued; ${waiting} waiting for the next trials\n`);
  });
}

