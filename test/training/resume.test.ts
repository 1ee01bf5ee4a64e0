/**
 * Built-in models resumed from a checkpoint train exactly like an uninterrupted run: the
 * weights are the whole state (plain SGD; shuffles and dropout masks derive from the epoch).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseFashionTensors, type FashionData } from '../../src/training/data.js';
import { runFashionTrial } from '../../src/training/fashion-objective.js';
import { loadFashionSubset, syntheticData, testTf } from './helpers.js';

const { tf, backend } = await testTf();
const data: FashionData = loadFashionSubset(1000, 500) ?? syntheticData(1000, 500);
const convGrads = tf.getKernel('Conv2DBackpropFilter', backend) !== undefined;

const configs: Record<string, Record<string, number>> = {
  softmax: { learning_rate: 0.1, batch_size: 16 },
  mlp: { learning_rate: 0.2, batch_size: 32, num_hiddens: 32, dropout: 0.3 },
  lenet: { learning_rate: 0.9, batch_size: 32 },
};

interface Run {
  values: number[];
  checkpoints: Map<number, Uint8Array>;
}

async function train(model: string, epochs: number, resume: { epoch: number; data: Uint8Array } | null = null): Promise<Run> {
  const values: number[] = [];
  const checkpoints = new Map<number, Uint8Array>();
  await runFashionTrial(tf, data, model, configs[model]!, {
    seed: 77,
    maxEpochs: epochs,
    resume,
    report: async (_e, v) => (values.push(v), false),
    checkpoint: async (e, bytes) => void checkpoints.set(e, bytes),
  });
  return { values, checkpoints };
}

for (const model of ['softmax', 'mlp', 'lenet']) {
  test(`${model}: resumed after epoch 2 of 4, epochs 3-4 equal an uninterrupted run's; no tensor leaks`, { skip: model === 'lenet' && !convGrads && `no conv gradients on ${backend}` }, async () => {
    const whole = await train(model, 4);
    assert.deepEqual([...whole.checkpoints.keys()], [1, 2, 3], 'a checkpoint after every epoch but the last');
    const base = tf.memory().numTensors;
    const resumed = await train(model, 4, { epoch: 2, data: whole.checkpoints.get(2)! });
    assert.equal(tf.memory().numTensors, base);
    assert.equal(resumed.values.length, 2, 'only epochs 3 and 4 trained');
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(resumed.values[i]! - whole.values[i + 2]!) < 1e-6, `epoch ${i + 3}`);
    assert.ok(Buffer.from(resumed.checkpoints.get(3)!).equals(Buffer.from(whole.checkpoints.get(3)!)), 'weights after epoch 3 bit-identical');
  });
}

test('a checkpoint of another model is refused with one clear error', async () => {
  const mlp = await train('mlp', 2);
  await assert.rejects(train('softmax', 3, { epoch: 1, data: mlp.checkpoints.get(1)! }), /cannot resume from the checkpoint/);
  releaseFashionTensors(tf, data);
});
