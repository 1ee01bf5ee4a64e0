/** hpo report: write a study's self-contained HTML report. */
import type { Argv } from 'yargs';
import { UsageError } from '../../errors.js';
import { findStudy, withStorage } from '../common.js';

export interface ReportArgs {
  storage: string;
  study?: string | undefined;
  out: string;
}

export function reportBuilder(y: Argv): Argv<ReportArgs> {
  return y
    .option('study', { type: 'string', describe: 'Study name (optional if the storage holds one study)' })
    .option('out', { type: 'string', default: 'report.html', describe: 'HTML file to write (replaced atomically)' })
    .example('$0 report --study a1 --storage /tmp/a.db --out a1.html', 'learning curves, rungs, timeline, parameters, trials') as unknown as Argv<ReportArgs>;
}

export async function reportCommand(a: ReportArgs): Promise<void> {
  if (!a.out.trim()) throw new UsageError('--out must name a file');
  await withStorage(a.storage, async (storage) => {
    const study = await findStudy(storage, a.study);
    // Loaded here, not with the CLI: every other command starts without the report code.
    const { writeReport } = await import('../../report/write-report.js');
    const r = await writeReport(storage, study.name, a.out);
    process.stdout.write(`wrote ${r.path} (${r.trials} trials, ${Math.max(1, Math.round(r.bytes / 1024))} KiB)\n`);
  });
}
