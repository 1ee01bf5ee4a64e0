import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testTf, syntheticData } from './helpers.js';
import { releaseFashionTensors } from '../../src/training/data.js';
import { deepConfig } from '../../src/training/models/mlp.js';
import { runFashionTrial } from '../../src/training/fashion-objective.js';
import { UsageError } from '../../src/errors.js';

const { tf } = await testTf();

test('deepConfig: which network a config of the MLP gets', () => {
  const cases: [Record<string, number | string>, { widths: number[]; activation: string } | null][] = [
    [{ learning_rate: 0.1, num_hiddens: 64 }, null], // the default space: one-layer lean net
    [{ learning_rate: 0.1, num_layers: 1, num_hiddens_1: 64 }, null], // one ReLU layer: lean net too
    [{ learning_rate: 0.1, num_layers: 2, num_hiddens_1: 64, num_hiddens_2: 32 }, { widths: [64, 32], activation: 'relu' }],
    [{ learning_rate: 0.1, num_layers: 1, num_hiddens_1: 64, activation: 'tanh' }, { widths: [64], activation: 'tanh' }],
    [{ learning_rate: 0.1, num_layers: 3, num_hiddens_1: 8, num_hiddens_2: 9, num_hiddens_3: 10, activation: 'sigmoid' }, { widths: [8, 9, 10], activation: 'sigmoid' }],
    [{ learning_rate: 0.1, num_layers: 2, num_hiddens: 40 }, { widths: [40, 40], activation: 'relu' }],
  ];
  for (const [params, want] of cases) assert.deepEqual(deepConfig(params), want, JSON.stringify(params));
  assert.throws(() => deepConfig({ learning_rate: 0.1, num_layers: 0 }), UsageError);
  assert.throws(() => deepConfig({ learning_rate: 0.1, num_layers: 2, activation: 'gelu' }), /activation must be one of relu, tanh, sigmoid/);
});

test('a two-layer tanh MLP with dropout learns and leaks no tensors', async () => {
  const own = syntheticData(800, 200, 7);
  const base = tf.memory().numTensors;
  const seen: number[] = [];
  const params = { learning_rate: 0.3, batch_size: 32, num_layers: 2, num_hiddens_1: 64, num_hiddens_2: 32, activation: 'tanh', dropout: 0.1 };
  const last = await runFashionTrial(tf, own, 'mlp', params, { seed: 3, maxEpochs: 3, report: async (_e, v) => { seen.push(v); return false; } });
  assert.ok(last < 0.5, `errors ${seen.map((v) => v.toFixed(3)).join(' ')}`);
  releaseFashionTensors(tf, own);
  assert.equal(tf.memory().numTensors, base);
});
