import type * as tfTypes from '@tensorflow/tfjs';
import { PIXELS, type Tf } from '../data.js';
import { deriveSeed, FastRng } from '../../random.js';
import { applyGrads, torchUniform, type Net, type StepScalars } from './common.js';

export type Activation = 'relu' | 'tanh' | 'sigmoid';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid'];

/**
 * MLP 784 -> H1 -> ... -> HL -> 10 with a chosen activation and inverted dropout after each
 * hidden layer: the conditional space's network (num_layers 1-3, a width per layer). Its
 * step is tf.variableGrads of the mean cross-entropy, the same SGD update as the one-layer
 * ReLU MlpNet's hand-derived lean step (which the default MLP keeps).
 */
export class DeepMlpNet implements Net {
  readonly variables: tfTypes.Variable[] = [];
  private readonly weights: tfTypes.Variable[] = [];
  private readonly biases: (tfTypes.Variable | null)[] = [];
  private readonly rng: FastRng;

  constructor(
    private readonly tf: Tf,
    readonly widths: readonly number[],
    readonly activation: Activation,
    readonly dropout: number,
    seed: number,
  ) {
    const sizes = [PIXELS, ...widths, 10];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const [fanIn, fanOut] = [sizes[i]!, sizes[i + 1]!];
      if (i === 0) {
        // Inputs carry a constant 1 column (layout flat1): the first bias is W's last row.
        const w = tf.tidy(() =>
          tf.variable(tf.concat([torchUniform(tf, [fanIn, fanOut], fanIn, deriveSeed(seed, 'W', 0)), torchUniform(tf, [1, fanOut], fanIn, deriveSeed(seed, 'b', 0))], 0), true),
        );
        this.weights.push(w);
        this.biases.push(null);
        this.variables.push(w);
        continue;
      }
      const [w, b] = tf.tidy(() => [
        tf.variable(torchUniform(tf, [fanIn, fanOut], fanIn, deriveSeed(seed, 'W', i)), true),
        tf.variable(torchUniform(tf, [fanOut], fanIn, deriveSeed(seed, 'b', i)), true),
      ]);
      this.weights.push(w!);
      this.biases.push(b!);
      this.variables.push(w!, b!);
    }
    this.rng = new FastRng(deriveSeed(seed, 'dropout'));
  }

  private act(x: tfTypes.Tensor): tfTypes.Tensor {
    const tf = this.tf;
    return this.activation === 'relu' ? tf.relu(x) : this.activation === 'tanh' ? tf.tanh(x) : tf.sigmoid(x);
  }

  private forward(x: tfTypes.Tensor, masks: (tfTypes.Tensor2D | null)[] | null): tfTypes.Tensor {
    const tf = this.tf;
    let h: tfTypes.Tensor = x;
    for (let i = 0; i < this.weights.length; i++) {
      h = tf.matMul(h as tfTypes.Tensor2D, this.weights[i] as tfTypes.Tensor2D);
      const b = this.biases[i];
      if (b) h = tf.add(h, b);
      if (i < this.weights.length - 1) {
        h = this.act(h);
        const m = masks?.[i];
        if (m) h = tf.mul(h, m);
      }
    }
    return h;
  }

  private masks(rows: number): (tfTypes.Tensor2D | null)[] | null {
    if (!(this.dropout > 0)) return null;
    return this.widths.map((w) => {
      const m = new Float32Array(rows * w);
      this.rng.fillMask(m, this.dropout, 1 / (1 - this.dropout));
      return this.tf.tensor2d(m, [rows, w], 'float32');
    });
  }

  logits(x: tfTypes.Tensor): tfTypes.Tensor {
    return this.forward(x, null);
  }

  leanStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void {
    this.autogradStep(x, y, s);
  }

  autogradStep(x: tfTypes.Tensor, y: tfTypes.Tensor2D, s: StepScalars): void {
    const tf = this.tf;
    const masks = this.masks(y.shape[0]);
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, this.forward(x, masks)) as tfTypes.Scalar, [...this.variables]);
    applyGrads(tf, this.variables, grads, s.lr);
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}
