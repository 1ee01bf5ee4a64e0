/**
 * What every sampler must do (run for each one in the registry): a pure function of (space,
 * seed, number, history); values of the right type, in bounds, on the log scale when asked;
 * conditional parameters present exactly when active.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSampler, SAMPLER_NAMES } from '../../src/samplers/registry.js';
import type { History, Observation } from '../../src/samplers/history.js';
import { contains, isActive, parseSpace, type Params, type SearchSpace } from '../../src/space/distribution.js';

const mixed = parseSpace({
  learning_rate: 'loguniform(0.001, 1)',
  dropout: 'uniform(0, 0.5)',
  hidden: 'int(32, 512, log)',
  batch_size: 'int(32, 256)',
  activation: 'categorical(["relu", "tanh", "sigmoid"])',
});
const numeric = parseSpace({ x: 'uniform(-5, 10)', y: 'loguniform(0.01, 100)', n: 'int(1, 8)', m: 'int(2, 1024, log)' });
const conditional = parseSpace({
  num_layers: 'int(1, 3)',
  num_hiddens_1: 'int(16, 256, log)',
  num_hiddens_2: { type: 'int', low: 16, high: 256, log: true, when: { num_layers: { min: 2 } } },
  num_hiddens_3: { type: 'int', low: 16, high: 256, log: true, when: { num_layers: { min: 3 } } },
  optimizer: 'categorical(["sgd", "momentum"])',
  momentum: { type: 'uniform', low: 0.5, high: 0.99, when: { optimizer: 'momentum' } },
});

/** A history of `n` completed trials of `space` valued by `f`, plus a running one. */
function historyOf(space: SearchSpace, n: number, f: (p: Params) => number): History {
  const random = createSampler('random');
  const trials: Observation[] = [];
  for (let k = 1; k <= n; k++) {
    const params = random.sample(space, 99, k);
    trials.push({ number: k, state: 'completed', params, value: f(params), reports: [] });
  }
  trials.push({ number: n + 1, state: 'running', params: random.sample(space, 99, n + 1), value: null, reports: [] });
  return { trials };
}

function checkConfig(space: SearchSpace, p: Params): void {
  const seen: Params = {};
  for (const [name, d] of Object.entries(space)) {
    if (isActive(d, seen)) {
      assert.ok(name in p, `active ${name} missing in ${JSON.stringify(p)}`);
      assert.ok(contains(d, p[name]!), `${name}=${String(p[name])} outside ${JSON.stringify(d)}`);
      seen[name] = p[name]!;
    } else assert.ok(!(name in p), `inactive ${name} present in ${JSON.stringify(p)}`);
  }
  assert.deepEqual(Object.keys(p).filter((k) => !(k in space)), []);
}

const spacesFor = (name: string): [string, SearchSpace][] =>
  name === 'gp' ? [['mixed', mixed], ['numeric', numeric]] : [['mixed', mixed], ['numeric', numeric], ['conditional', conditional]];

for (const name of SAMPLER_NAMES) {
  describe(`sampler contract: ${name}`, () => {
    for (const [label, space] of spacesFor(name)) {
      const f = (p: Params): number => Object.values(p).reduce<number>((a, v) => a + (typeof v === 'number' ? Math.log1p(Math.abs(v)) : v === 'relu' || v === 'sgd' ? 0 : 1), 0);
      const history = historyOf(space, 15, f);

      it(`${label}: same (seed, number, history) -> same config, from a fresh instance too`, () => {
        const a = createSampler(name).sample(space, 5, 16, history);
        const b = createSampler(name).sample(space, 5, 16, history);
        assert.deepEqual(a, b);
        // Asking other numbers in between changes nothing (no hidden state).
        const s = createSampler(name);
        s.sample(space, 5, 3, history);
        assert.deepEqual(s.sample(space, 5, 16, history), a);
      });

      it(`${label}: every config respects types, bounds and conditions`, () => {
        const s = createSampler(name);
        for (let k = 1; k <= 25; k++) checkConfig(space, s.sample(space, 11, k, k > 12 ? history : { trials: [] }));
      });

      it(`${label}: the seed and the number matter`, () => {
        // (A model may propose the same config twice on a small int space, so over 5 numbers.)
        const s = createSampler(name);
        const key = (seed: number, k: number): string => JSON.stringify(s.sample(space, seed, k, history));
        const one = [16, 17, 18, 19, 20].map((k) => key(1, k));
        const two = [16, 17, 18, 19, 20].map((k) => key(2, k));
        assert.notDeepEqual(one, two);
        assert.ok(new Set(one).size > 1, `numbers 16-20 all gave ${one[0]}`);
      });
    }
  });
}

describe('conditional spaces under random search', () => {
  it('children appear with the frequency of their condition', () => {
    const s = createSampler('random');
    let two = 0;
    let three = 0;
    for (let k = 1; k <= 600; k++) {
      const p = s.sample(conditional, 1, k);
      if ('num_hiddens_2' in p) two++;
      if ('num_hiddens_3' in p) three++;
      assert.equal('momentum' in p, p['optimizer'] === 'momentum');
    }
    // num_layers uniform on {1, 2, 3}: 2/3 and 1/3
    assert.ok(Math.abs(two / 600 - 2 / 3) < 0.07, `two ${two}`);
    assert.ok(Math.abs(three / 600 - 1 / 3) < 0.07, `three ${three}`);
  });
});

describe('enqueued configs', () => {
  it('config files: one object (even over several lines), an array, or JSON lines; errors name the file and line', async () => {
    const { parseConfigsText, keyedItems } = await import('../../src/study/enqueue.js');
    assert.deepEqual(parseConfigsText('{"a": 1}', 'f'), [{ a: 1 }]);
    assert.deepEqual(parseConfigsText('{\n  "a": 1,\n  "b": 2\n}\n', 'f'), [{ a: 1, b: 2 }]);
    assert.deepEqual(parseConfigsText('[{"a": 1}, {"a": 2}]', 'f'), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(parseConfigsText('{"a": 1}\n\n{"a": 2}\n', 'f'), [{ a: 1 }, { a: 2 }]);
    assert.throws(() => parseConfigsText('  \n', 'f.json'), /^UsageError: f\.json: no config in it/);
    assert.throws(() => parseConfigsText('{"a": 1}\n{"a": ', 'f.jsonl'), /f\.jsonl line 2: not valid JSON/);
    assert.throws(() => parseConfigsText('[{"a": 1},', 'f.json'), /f\.json: not a valid JSON array/);
    // Keys: key order does not matter; repeats are numbered.
    const keys = keyedItems([{ b: 2, a: 1 }, { a: 1, b: 2 }, { a: 3 }]).map((i) => i.key);
    assert.deepEqual(keys, ['{"a":1,"b":2}#1', '{"a":1,"b":2}#2', '{"a":3}#1']);
  });

  it('checkParams: partial configs, inactive and unknown parameters', async () => {
    const { checkParams } = await import('../../src/space/distribution.js');
    assert.deepEqual(checkParams(conditional, { num_layers: 2, num_hiddens_2: 64 }, { partial: true }), { num_layers: 2, num_hiddens_2: 64 });
    assert.throws(() => checkParams(conditional, { num_layers: 1, num_hiddens_2: 64 }, { partial: true }), /"num_hiddens_2": is inactive for this config \(num_layers >= 2\)/);
    assert.throws(() => checkParams(conditional, { num_layers: 1 }), /"num_hiddens_1": missing/);
    assert.throws(() => checkParams(conditional, { width: 3 }, { partial: true }), /"width": is not in the search space/);
    assert.throws(() => checkParams(conditional, { num_layers: 4 }, { partial: true }), /4 is not a value of int\(1, 3\)/);
  });

  it('completeConfig: fixed values win, the rest from the sampler, newly active children drawn', async () => {
    const { completeConfig } = await import('../../src/samplers/complete-config.js');
    const sampled = { num_layers: 1, num_hiddens_1: 100, optimizer: 'sgd' };
    const c = completeConfig(conditional, { num_layers: 3, optimizer: 'momentum' }, sampled, 1, 7);
    assert.equal(c['num_hiddens_1'], 100);
    checkConfig(conditional, c);
    assert.ok('num_hiddens_3' in c && 'momentum' in c);
    assert.deepEqual(completeConfig(conditional, { num_layers: 3, optimizer: 'momentum' }, sampled, 1, 7), c);
  });
});
