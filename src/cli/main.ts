#!/usr/bin/env node
/**
 * hpo: the command-line front end. Every error a user can cause prints one line and exits
 * non-zero; set HPO_DEBUG=1 to see stacks.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { HpoError, errorMessage } from '../errors.js';
import { DEFAULT_STORAGE } from './common.js';
import { infoCommand } from './commands/info.js';
import { bestCommand, sqlCommand, studiesCommand, trialsCommand } from './commands/read.js';
import { reportBuilder, reportCommand, type ReportArgs } from './commands/report.js';
import { runBuilder, runCommand, type RunArgs } from './commands/run.js';

function fail(e: unknown): never {
  if (process.env['HPO_DEBUG'] && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`);
  const msg = errorMessage(e);
  process.stderr.write(`hpo: ${msg}${e instanceof HpoError || process.env['HPO_DEBUG'] ? '' : ' (set HPO_DEBUG=1 for details)'}\n`);
  process.exit(e instanceof HpoError ? e.exitCode : 1);
}

/**
 * yargs' own messages on one line. An invalid choice becomes e.g.
 * `--model: "resnet" is not one of softmax, mlp, lenet` (yargs prints the name, value and
 * choices on a second line, which a one-line error would lose).
 */
export function oneLine(msg: string): string {
  const lines = msg.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines[0] === 'Invalid values:') {
    const parts = lines.slice(1).map((l) => {
      const m = /^Argument: ([^,]+), Given: (.*), Choices: (.*)$/.exec(l);
      if (!m) return l;
      const choices = m[3]!.split(', ').map((c) => c.replace(/^"(.*)"$/, '$1'));
      return `--${m[1]}: ${m[2]} is not one of ${choices.join(', ')}`;
    });
    return parts.join('; ') || lines[0];
  }
  return lines.join('; ');
}

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('hpo')
    // A flag given twice takes its last value (`npm start -- --trials 10` overrides the script's).
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .usage('$0 <command> [options]')
    .option('storage', { type: 'string', default: DEFAULT_STORAGE, describe: 'SQLite file or postgres://user@host:port/db', global: true })
    .command(
      'run',
      'Run or resume a study',
      (y) =>
        runBuilder(y).example(
          '$0 run --study s1 --model softmax --trials 6 --epochs 2 --train-subset 10000 --workers 2 --seed 7',
          'random search over the learning rate',
        ),
      (a) => runCommand(a as unknown as RunArgs),
    )
    .command(
      'best',
      'Show the best completed trial and its params',
      (y) =>
        y
          .option('study', { type: 'string', describe: 'Study name (optional if the storage holds one study)' })
          .option('json', { type: 'boolean', default: false, describe: 'Print a JSON object' })
          .example('$0 best --study s1 --json', ''),
      (a) => bestCommand(a),
    )
    .command(
      'trials',
      'List the trials of a study',
      (y) =>
        y
          .option('study', { type: 'string', describe: 'Study name (optional if the storage holds one study)' })
          .option('json', { type: 'boolean', default: false, describe: 'Print a JSON array' })
          .option('csv', { type: 'boolean', default: false, describe: 'Print CSV, one column per parameter' })
          .option('state', { type: 'string', array: true, describe: 'Only trials in these states' })
          .option('sort', { type: 'string', choices: ['number', 'value'], default: 'number', describe: 'Order' })
          .example('$0 trials --study s1 --sort value', ''),
      (a) => trialsCommand(a),
    )
    .command(
      'studies',
      'List the studies in a storage',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print a JSON array' }).example('$0 studies --storage ./hpo.db', ''),
      (a) => studiesCommand(a),
    )
    .command(
      'sql <query>',
      'Run a read-only SQL query over the results',
      (y) =>
        y
          .positional('query', { type: 'string', demandOption: true, describe: 'One SELECT (or WITH ... SELECT) statement' })
          .option('json', { type: 'boolean', default: false, describe: 'Print an array of row objects' })
          .option('csv', { type: 'boolean', default: false, describe: 'Print CSV' })
          .example('$0 sql "SELECT number, value FROM trials ORDER BY value LIMIT 3"', ''),
      (a) => sqlCommand(a as typeof a & { query: string }),
    )
    .command('report', 'Write a self-contained HTML report of a study', reportBuilder, (a) => reportCommand(a as unknown as ReportArgs))
    .command(
      'info',
      'Show the tfjs backend, versions, threads and where the dataset is',
      (y) =>
        y
          .option('backend', { type: 'string', choices: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'auto', describe: 'Backend to probe' })
          .option('data-dir', { type: 'string', describe: 'Directory holding the Fashion-MNIST IDX files' })
          .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
      (a) => infoCommand(a),
    )
    .demandCommand(1, 'give a command: run, best, trials, studies, sql, report or info (see hpo --help)')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      if (err) throw err;
      throw new HpoError(oneLine(msg));
    })
    .parseAsync();
}

main(hideBin(process.argv)).catch(fail);
