import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpaceError } from '../../src/errors.js';
import { contains, formatDistribution, parseDistribution, parseSpace } from '../../src/space/distribution.js';

describe('search space validation', () => {
  const bad: [string, unknown, RegExp][] = [
    ['lr', { type: 'loguniform', low: 1, high: 0.1 }, /"lr": low \(1\) >= high \(0\.1\)/],
    ['lr', { type: 'loguniform', low: 0, high: 1 }, /"lr": loguniform needs positive bounds/],
    ['lr', { type: 'loguniform', low: -1, high: 1 }, /positive bounds/],
    ['x', { type: 'uniform', low: 2, high: 2 }, /low \(2\) >= high \(2\)/],
    ['x', { type: 'uniform', low: 'a', high: 2 }, /low must be a finite number/],
    ['x', { type: 'uniform', low: 0 }, /high must be a finite number/],
    ['n', { type: 'int', low: 1.5, high: 4 }, /int low must be an integer/],
    ['n', { type: 'int', low: 5, high: 4 }, /low \(5\) > high \(4\)/],
    ['n', { type: 'int', low: 0, high: 4, log: true }, /log scale needs positive bounds/],
    ['n', { type: 'int', low: 1, high: 4, log: 'yes' }, /"log" must be true or false/],
    ['c', { type: 'categorical', choices: [] }, /"c": categorical choices are empty/],
    ['c', { type: 'categorical' }, /needs "choices"/],
    ['c', { type: 'categorical', choices: ['a', 'a'] }, /duplicate choice/],
    ['c', { type: 'categorical', choices: [{}] }, /not a string, finite number or boolean/],
    ['z', { type: 'normal', low: 0, high: 1 }, /"z": unknown type "normal"/],
    ['z', { low: 0, high: 1 }, /unknown type undefined/],
    ['z', { type: 'uniform', low: 0, high: 1, step: 2 }, /unknown field "step"/],
    ['z', 42, /expected an object/],
    ['z', 'gaussian(0, 1)', /unknown type "gaussian"/],
    ['z', 'uniform(0)', /takes \(low, high\)/],
    ['z', 'uniform(0, x)', /"x" is not a finite number/],
    ['z', 'loguniform(0.1, 1, log)', /applies to int only/],
    ['z', 'categorical(a, b)', /needs a JSON array/],
    ['z', 'nonsense', /cannot parse/],
    ['bad-name', { type: 'uniform', low: 0, high: 1 }, /name must be an identifier/],
  ];
  for (const [name, raw, re] of bad) {
    it(`rejects ${name}: ${JSON.stringify(raw)}`, () => {
      assert.throws(() => parseDistribution(name, raw), (e: unknown) => e instanceof SpaceError && re.test(e.message) && !e.message.includes('\n'));
    });
  }

  const good: [unknown, unknown][] = [
    [{ type: 'loguniform', low: 0.01, high: 1 }, { type: 'loguniform', low: 0.01, high: 1 }],
    ['loguniform(0.01, 1)', { type: 'loguniform', low: 0.01, high: 1 }],
    ['uniform(-1, 1)', { type: 'uniform', low: -1, high: 1 }],
    ['int(32, 256)', { type: 'int', low: 32, high: 256 }],
    ['int(32, 256, log)', { type: 'int', low: 32, high: 256, log: true }],
    [{ type: 'int', low: 3, high: 3 }, { type: 'int', low: 3, high: 3 }],
    ['categorical(["relu", "tanh", 3, true])', { type: 'categorical', choices: ['relu', 'tanh', 3, true] }],
  ];
  for (const [raw, want] of good) {
    it(`accepts ${JSON.stringify(raw)}`, () => {
      const d = parseDistribution('p', raw);
      assert.deepEqual(d, want);
      assert.deepEqual(parseDistribution('p', formatDistribution(d)), want, 'short form round-trips');
    });
  }

  it('rejects a non-object or empty space', () => {
    assert.throws(() => parseSpace([]), /expected a JSON object/);
    assert.throws(() => parseSpace(null), /expected a JSON object/);
    assert.throws(() => parseSpace({}), /no parameters/);
  });

  it('keeps parameter order', () => {
    const s = parseSpace({ b: 'uniform(0, 1)', a: 'int(1, 2)' });
    assert.deepEqual(Object.keys(s), ['b', 'a']);
  });

  it('contains() checks membership', () => {
    assert.equal(contains({ type: 'int', low: 1, high: 3 }, 2), true);
    assert.equal(contains({ type: 'int', low: 1, high: 3 }, 2.5), false);
    assert.equal(contains({ type: 'categorical', choices: ['a'] }, 'b'), false);
    assert.equal(contains({ type: 'uniform', low: 0, high: 1 }, 1.5), false);
  });
});
