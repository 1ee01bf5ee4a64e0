import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignLanes } from '../../src/report/lanes.js';
import { linearScale, logScale, niceDomain } from '../../src/report/scale.js';
import { sampleTrials } from '../../src/report/chart.js';
import { studyRungs } from '../../src/report/data.js';
import { renderReport } from '../../src/report/html.js';
import { synthetic } from './synthetic.js';

describe('timeline lanes', () => {
  const cases: { name: string; ivs: [number, string, number, number][]; lanes: number[]; rows: number }[] = [
    { name: 'one worker, back to back', ivs: [[1, 'a', 0, 10], [2, 'a', 10, 20], [3, 'a', 20, 25]], lanes: [0, 0, 0], rows: 1 },
    { name: 'two threads overlapping', ivs: [[1, 'a', 0, 10], [2, 'a', 1, 5], [3, 'a', 5, 12], [4, 'a', 10, 14]], lanes: [0, 1, 1, 0], rows: 2 },
    { name: 'first free lane, not the least loaded', ivs: [[1, 'a', 0, 3], [2, 'a', 1, 9], [3, 'a', 2, 4], [4, 'a', 4, 6]], lanes: [0, 1, 2, 0], rows: 3 },
    { name: 'processes stacked in order of first start', ivs: [[1, 'b', 5, 9], [2, 'a', 0, 9], [3, 'a', 1, 4], [4, 'b', 6, 8]], lanes: [0, 0, 1, 1], rows: 4 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const layout = assignLanes(c.ivs.map(([id, owner, start, end]) => ({ id, owner, start, end })));
      const lane = new Map(layout.placed.map((p) => [p.id, p.lane]));
      assert.deepEqual(c.ivs.map(([id]) => lane.get(id)), c.lanes);
      assert.equal(layout.rows, c.rows);
      // No two intervals of one row overlap.
      for (const p of layout.placed) {
        for (const q of layout.placed) if (p !== q && p.row === q.row) assert.ok(p.end <= q.start || q.end <= p.start, `${p.id} and ${q.id} overlap`);
      }
    });
  }
  it('processes get disjoint rows', () => {
    const layout = assignLanes([{ id: 1, owner: 'b', start: 5, end: 9 }, { id: 2, owner: 'a', start: 0, end: 9 }, { id: 3, owner: 'a', start: 1, end: 4 }]);
    assert.deepEqual(layout.owners, [{ owner: 'a', firstRow: 0, lanes: 2 }, { owner: 'b', firstRow: 2, lanes: 1 }]);
  });
});

describe('scales', () => {
  it('linear ticks are round numbers inside the domain', () => {
    const s = linearScale([0.1, 0.9], [0, 100]);
    assert.deepEqual(s.ticks(4).map((t) => t.label), ['0.2', '0.4', '0.6', '0.8']);
    assert.deepEqual(niceDomain(0.123, 0.87), [0.1, 0.9]);
    assert.deepEqual(niceDomain(5, 5), [4.5, 5.5]);
  });
  it('log ticks: decades, with 2 and 5 on short axes', () => {
    assert.deepEqual(logScale([0.01, 1], [0, 100]).ticks().map((t) => t.label), ['0.01', '0.02', '0.05', '0.1', '0.2', '0.5', '1']);
    assert.deepEqual(logScale([1e-4, 10], [0, 100]).ticks().map((t) => t.label), ['1e-4', '0.001', '0.01', '0.1', '1', '10']);
    const s = logScale([0.01, 1], [0, 100]);
    assert.equal(s.map(0.1), 50);
  });
  it('rungs come from the study settings', () => {
    assert.deepEqual(studyRungs({ scheduler: 'asha', epochs: 10, minEpochs: 2, eta: 2 }), [2, 4, 8, 10]);
    assert.deepEqual(studyRungs({ scheduler: 'fifo', epochs: 10 }), []);
    assert.deepEqual(studyRungs({ scheduler: 'asha', epochs: 'x' }), []);
  });
});

describe('rendering', () => {
  it('a huge study stays a reasonable file', () => {
    const html = renderReport(synthetic(5000));
    const mb = Buffer.byteLength(html) / 2 ** 20;
    assert.ok(mb < 4, `5000 trials gave ${mb.toFixed(2)} MiB`);
    assert.match(html, /an even sample of the rest/);
    assert.match(html, /The 1000 best of 5000 trials/);
    // Every trial is in the timeline, sampled charts are capped.
    assert.equal(html.match(/<rect class="mark"/g)?.length, 5000);
  });

  it('escapes what comes from the user and from trials', () => {
    const html = renderReport(synthetic(30));
    assert.match(html, /big &lt;study&gt;/);
    assert.doesNotMatch(html, /<study>/);
    assert.match(html, /x &lt; y &amp; &quot;z&quot;/);
  });

  it('is deterministic', () => {
    assert.equal(renderReport(synthetic(50)), renderReport(synthetic(50)));
  });

  it('sampling keeps the best and spreads the rest', () => {
    const data = synthetic(400);
    const s = sampleTrials(data.trials, 100);
    assert.equal(s.length, 100);
    const best = data.trials.filter((t) => t.value !== null).sort((a, b) => a.value! - b.value! || a.number - b.number)[0]!;
    assert.ok(s.some((t) => t.number === best.number));
    assert.ok(s.some((t) => t.number > 300) && s.some((t) => t.number < 100));
  });
});
