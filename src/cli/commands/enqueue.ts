/** hpo enqueue: put fixed configs at the head of a study's queue. */
import { UsageError } from '../../errors.js';
import { parseConfig, parseConfigsText } from '../../study/enqueue.js';
import { findStudy, readConfigFile, withStorage } from '../common.js';

export interface EnqueueArgs {
  storage: string;
  study?: string | undefined;
  configs?: string[] | undefined;
  file?: string | undefined;
}

/** JSON configs from the arguments and from --file (one object per line, one JSON array, or one object). */
function configsFrom(a: EnqueueArgs): unknown[] {
  const out: unknown[] = [...(a.configs ?? [])];
  if (a.file !== undefined) out.push(...parseConfigsText(readConfigFile(a.file, '--file'), `--file ${a.file}`));
  if (out.length === 0) throw new UsageError('enqueue: give at least one config, e.g. hpo enqueue --study s \'{"learning_rate": 0.1}\'');
  return out;
}

export async function enqueueCommand(a: EnqueueArgs): Promise<void> {
  const configs = configsFrom(a);
  await withStorage(a.storage, async (storage) => {
    const study = await findStudy(storage, a.study);
    // Validate every config before queueing any, and queue them in one transaction, so a bad
    // one (or a failure half-way) leaves the queue untouched.
    const params = configs.map((c) => parseConfig(study, c));
    const { waiting } = await storage.enqueueTrials(study.id, params.map((p) => ({ params: p })));
    process.stdout.write(`study "${study.name}": ${configs.length} config(s) enqueued; ${waiting} waiting for the next trials\n`);
  });
}

