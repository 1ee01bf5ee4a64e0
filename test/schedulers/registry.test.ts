import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { AshaScheduler } from '../../src/schedulers/asha.js';
import { HyperbandScheduler } from '../../src/schedulers/hyperband.js';
import { createScheduler, SCHEDULER_NAMES, type SchedulerOptions } from '../../src/schedulers/registry.js';
import { SuccessiveHalvingScheduler } from '../../src/schedulers/successive-halving.js';

describe('createScheduler', () => {
  it('builds every registered scheduler under its name', () => {
    for (const name of SCHEDULER_NAMES) {
      const s = createScheduler(name, { maxEpochs: 10, minEpochs: 2, eta: 2 });
      assert.equal(s.name, name);
      assert.equal(s.synchronous, name === 'successive-halving');
    }
  });

  it('defaults: minEpochs 1, eta 2', () => {
    const a = createScheduler('asha', { maxEpochs: 10 });
    assert.ok(a instanceof AshaScheduler);
    assert.deepEqual(a.rungs, [1, 2, 4, 8, 10]);
    const sh = createScheduler('successive-halving', { maxEpochs: 10 });
    assert.ok(sh instanceof SuccessiveHalvingScheduler);
    assert.equal(sh.trialsPerRound, 16);
    assert.equal(sh.pollMs, 200);
  });

  it('passes SH options through', () => {
    const sh = createScheduler('successive-halving', { maxEpochs: 10, minEpochs: 2, eta: 2, trialsPerRound: 5, maxTrials: 12, pollMs: 20 });
    assert.ok(sh instanceof SuccessiveHalvingScheduler);
    assert.deepEqual([sh.trialsPerRound, sh.maxTrials, sh.pollMs], [5, 12, 20]);
    assert.ok(createScheduler('hyperband', { maxEpochs: 10, minEpochs: 2, eta: 2 }) instanceof HyperbandScheduler);
  });

  const bad: [string, string, Record<string, unknown>, string][] = [
    ['unknown name', 'bohb', { maxEpochs: 10 }, 'unknown scheduler "bohb"; valid: fifo, asha, successive-halving, hyperband'],
    ['maxEpochs 0', 'asha', { maxEpochs: 0 }, 'scheduler: maxEpochs must be an integer >= 1, got 0'],
    ['maxEpochs fraction', 'fifo', { maxEpochs: 2.5 }, 'scheduler: maxEpochs must be an integer >= 1, got 2.5'],
    ['maxEpochs string', 'fifo', { maxEpochs: '10' }, 'scheduler: maxEpochs must be an integer >= 1, got 10'],
    ['minEpochs 0', 'asha', { maxEpochs: 10, minEpochs: 0 }, 'scheduler: minEpochs must be an integer between 1 and maxEpochs (10), got 0'],
    ['minEpochs > maxEpochs', 'hyperband', { maxEpochs: 10, minEpochs: 11 }, 'scheduler: minEpochs must be an integer between 1 and maxEpochs (10), got 11'],
    ['eta 1', 'asha', { maxEpochs: 10, eta: 1 }, 'scheduler: eta must be an integer >= 2, got 1'],
    ['eta 1.5', 'successive-halving', { maxEpochs: 10, eta: 1.5 }, 'scheduler: eta must be an integer >= 2, got 1.5'],
    ['eta NaN', 'asha', { maxEpochs: 10, eta: Number.NaN }, 'scheduler: eta must be an integer >= 2, got NaN'],
    ['trialsPerRound 0', 'successive-halving', { maxEpochs: 10, trialsPerRound: 0 }, 'scheduler: trialsPerRound must be an integer >= 1, got 0'],
    ['maxTrials -1', 'successive-halving', { maxEpochs: 10, maxTrials: -1 }, 'scheduler: maxTrials must be an integer >= 1, got -1'],
    ['pollMs 0', 'successive-halving', { maxEpochs: 10, pollMs: 0 }, 'scheduler: pollMs must be a number > 0, got 0'],
  ];
  for (const [what, name, opts, message] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => createScheduler(name, opts as unknown as SchedulerOptions),
        (e: unknown) => e instanceof UsageError && e.message === message && !e.message.includes('\n'),
      );
    });
  }

  it('validates options a scheduler ignores, then ignores them', () => {
    assert.equal(createScheduler('fifo', { maxEpochs: 3, minEpochs: 2, eta: 4, trialsPerRound: 9 }).plan(1).maxEpochs, 3);
    assert.throws(() => createScheduler('fifo', { maxEpochs: 3, eta: 1 }), UsageError);
  });
});
