import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dbRows, FIXTURES, hpo, hpoAsync, tempDb } from './helpers.js';

const N = 16;

function args(db: string): string[] {
  return [
    'run', '--study', 'asha', '--storage', db, '--objective', join(FIXTURES, 'objective-slow.mjs'), '--space', join(FIXTURES, 'space-slow.json'),
    '--scheduler', 'asha', '--trials', String(N), '--min-epochs', '1', '--max-epochs', '8', '--eta', '2', '--workers', '2', '--seed', '21',
  ];
}

interface Row {
  number: number;
  state: string;
  epochs: number;
  value: number | null;
  attempt: number;
}

function rows(db: string): Row[] {
  return dbRows<Row>(db, 'SELECT number, state, epochs, value, attempt FROM trials ORDER BY number');
}

function checkAshaOutcome(rs: Row[]): void {
  assert.deepEqual(rs.map((r) => r.number), Array.from({ length: N }, (_, i) => i + 1));
  for (const r of rs) {
    assert.ok(r.state === 'completed' || r.state === 'pruned', `trial ${r.number}: ${r.state}`);
    if (r.state === 'completed') assert.equal(r.epochs, 8);
    // ASHA stops only at rungs 1, 2, 4 (r_min 1, eta 2, r_max 8)
    else assert.ok([1, 2, 4].includes(r.epochs), `pruned at a rung, not at ${r.epochs}`);
  }
  assert.ok(rs.some((r) => r.state === 'pruned') && rs.some((r) => r.state === 'completed'));
}

describe('kill -9 in the middle of an ASHA study', () => {
  it('the rerun ends like an uninterrupted run: every trial decided once, the best config completed', async () => {
    const clean = tempDb('asha-clean');
    assert.equal(hpo(args(clean)).code, 0);
    const reference = rows(clean);
    checkAshaOutcome(reference);

    const db = tempDb('asha-crash');
    const child = hpoAsync(args(db));
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(Date.now() < deadline, 'study did not progress');
      await new Promise((r) => setTimeout(r, 100));
      if (!existsSync(db)) continue;
      let rs: Row[];
      try {
        rs = rows(db);
      } catch {
        continue;
      }
      if (rs.filter((r) => r.state === 'pruned' || r.state === 'completed').length >= N / 2 && rs.some((r) => r.state === 'running')) break;
    }
    child.kill('SIGKILL');
    await once(child, 'exit');
    const before = rows(db);
    const r = hpo(args(db));
    assert.equal(r.code, 0, r.stderr);
    const after = rows(db);
    checkAshaOutcome(after);
    for (const b of before.filter((x) => x.state === 'completed' || x.state === 'pruned')) {
      assert.deepEqual(after.find((x) => x.number === b.number), b, `decided trial ${b.number} kept, not trained again`);
    }
    for (const b of before.filter((x) => x.state === 'running')) {
      assert.equal(after.find((x) => x.number === b.number)!.attempt, 2, `interrupted trial ${b.number} ran again`);
    }
    // The objective's curves keep their order at every epoch, so the best config wins its
    // rung every time and is never pruned, interrupted or not.
    const best = (rs: Row[]): number => rs.filter((x) => x.state === 'completed').sort((a, b) => a.value! - b.value!)[0]!.number;
    assert.equal(best(after), best(reference));
    const dup = dbRows(db, 'SELECT trial_id, epoch FROM reports GROUP BY trial_id, epoch HAVING count(*) > 1');
    assert.deepEqual(dup, [], 'no trial trained twice at the same rung');
    assert.deepEqual(dbRows(db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  });
});
