import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { PackClocks, TrialClock } from '../../src/worker/trial-clock.js';

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

describe('PackClocks (--trial-timeout for the members of a pack)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('a member that joins at a boundary counts from the answer that lets it in; the earlier one runs out first', () => {
    let allOver = 0;
    const c = new PackClocks(100, () => allOver++);
    c.add(1);
    mock.timers.tick(500); // the task waits for its thread: nobody's time
    c.start();
    mock.timers.tick(60); // epoch 1
    c.pause(); // the main thread stores epoch 1 and decides
    c.add(2); // trial 2 joins
    mock.timers.tick(1000);
    assert.ok(!c.over(1) && !c.over(2), 'time answering reports is not the members');
    c.resume();
    mock.timers.tick(39);
    assert.ok(!c.over(1));
    mock.timers.tick(1); // member 1: 60 + 40 ms
    assert.ok(c.over(1) && !c.over(2), 'member 1 is over, member 2 has used 40 of 100 ms');
    assert.equal(allOver, 0, 'the pack goes on to its boundary, where member 1 leaves');
    c.pause();
    c.remove(1);
    c.resume();
    mock.timers.tick(59);
    assert.ok(!c.over(2));
    mock.timers.tick(1);
    assert.ok(c.over(2));
    assert.equal(allOver, 1, 'the last member over time: the pack cannot reach a boundary in time');
    mock.timers.tick(1000);
    assert.equal(allOver, 1, 'once');
    c.stop();
  });

  it('all members over before a boundary (a hung step): onAllOver fires when the last one runs out', () => {
    let allOver = 0;
    const c = new PackClocks(100, () => allOver++);
    c.add(1);
    c.add(2);
    c.start();
    mock.timers.tick(50);
    c.pause();
    c.add(3); // joins with its whole budget
    c.resume();
    mock.timers.tick(50);
    assert.ok(c.over(1) && c.over(2) && !c.over(3));
    assert.equal(allOver, 0);
    mock.timers.tick(50);
    assert.equal(allOver, 1);
    c.stop();
  });

  it('stop() disarms every clock', () => {
    let allOver = 0;
    const c = new PackClocks(10, () => allOver++);
    c.add(1);
    c.start();
    c.stop();
    mock.timers.tick(100);
    assert.equal(allOver, 0);
  });
});
