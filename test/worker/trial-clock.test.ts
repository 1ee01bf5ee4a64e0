import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TrialClock } from '../../src/worker/trial-clock.js';

describe('TrialClock (the --trial-timeout clock)', () => {
  it('fires after its budget of running time', async () => {
    let fired = 0;
    const c = new TrialClock(60, () => fired++);
    c.start();
    await sleep(30);
    assert.equal(fired, 0);
    await sleep(60);
    assert.equal(fired, 1);
    c.stop();
  });

  it('does not count paused time (the main thread answering a report), and pauses nest', async () => {
    let fired = 0;
    const c = new TrialClock(80, () => fired++);
    c.start();
    await sleep(40);
    c.pause();
    c.pause();
    await sleep(150);
    c.resume();
    await sleep(20);
    assert.equal(fired, 0, 'still paused by the outer pause');
    c.resume();
    await sleep(20);
    assert.equal(fired, 0, '~60 ms of 80 used');
    await sleep(60);
    assert.equal(fired, 1);
  });

  it('does not count time before start (a task waiting in the queue), and stop() disarms it', async () => {
    let fired = 0;
    const c = new TrialClock(30, () => fired++);
    await sleep(60);
    assert.equal(fired, 0);
    c.start();
    c.stop();
    await sleep(60);
    assert.equal(fired, 0);
  });
});
