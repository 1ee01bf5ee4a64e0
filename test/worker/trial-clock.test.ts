import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { TrialClock } from '../../src/worker/trial-clock.js';

// Mocked setTimeout and Date: the clock's arithmetic is checked exactly, whatever the load
// on the machine running the tests.
describe('TrialClock (the --trial-timeout clock)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('fires after its budget of running time', () => {
    let fired = 0;
    const c = new TrialClock(60, () => fired++);
    c.start();
    mock.timers.tick(59);
    assert.equal(fired, 0);
    mock.timers.tick(1);
    assert.equal(fired, 1);
    c.stop();
  });

  it('does not count paused time (the main thread answering a report), and pauses nest', () => {
    let fired = 0;
    const c = new TrialClock(80, () => fired++);
    c.start();
    mock.timers.tick(40);
    c.pause();
    c.pause();
    mock.timers.tick(150);
    c.resume();
    mock.timers.tick(20);
    assert.equal(fired, 0, 'still paused by the outer pause');
    c.resume();
    mock.timers.tick(39);
    assert.equal(fired, 0, '79 ms of 80 used');
    mock.timers.tick(1);
    assert.equal(fired, 1);
  });

  it('does not count time before start (a task waiting in the queue), and stop() disarms it', () => {
    let fired = 0;
    const c = new TrialClock(30, () => fired++);
    mock.timers.tick(60);
    assert.equal(fired, 0);
    c.start();
    c.stop();
    mock.timers.tick(60);
    assert.equal(fired, 0);
  });
});
