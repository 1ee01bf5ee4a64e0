import type { SearchSpace, Params } from '../../space/distribution.js';
import type { FashionData, Tf } from '../data.js';
import { UsageError } from '../../errors.js';

/**
 * How a trainer computes its update.
 * - `lean`: hand-derived gradients, as few backend ops per step as the math allows
 *   (the default: per-op overhead dominates small steps on tfjs-node).
 * - `autograd`: tf.variableGrads on the same loss plus the same SGD update; kept as the
 *   reference for tests and benchmarks.
 */
export type StepKind = 'lean' | 'autograd';

export interface TrainerOptions {
  /** Trial seed: fixes weight init, the per-epoch shuffles and dropout masks. */
  readonly seed: number;
  /** Train on the first N training images only (default: all). */
  readonly trainSubset?: number;
  /** Default 'lean'. */
  readonly step?: StepKind;
}

/** One trial's model, data pipeline and optimiser state. */
export interface Trainer {
  /** The batch size in effect (the config's batch_size or the model default). */
  readonly batchSize: number;
  /** One pass of minibatch SGD over the (subset of the) training set, in a seeded order. */
  trainEpoch(epochIndex: number): void;
  /** Misclassification rate on the whole test set, in [0, 1]. One small dataSync. */
  validationError(): number;
  /** The training state after the last epoch (weights), for a checkpoint. */
  saveState(): Uint8Array;
  /**
   * Continue from a saveState() of the same model and config.
   * @throws TrialError if `data` is not such a state.
   */
  loadState(data: Uint8Array): void;
  /** Free the trainer's variables and scalars (not the shared dataset tensors). Idempotent. */
  dispose(): void;
}

export interface ModelDefaults {
  /** Epochs per trial when the study does not say (d2l's values). */
  readonly epochs: number;
  /** Batch size when the config has no batch_size. */
  readonly batchSize: number;
}

/** A trainable model family with its default search space. */
export interface ModelSpec {
  readonly name: string;
  readonly description: string;
  readonly defaultSpace: SearchSpace;
  readonly defaults: ModelDefaults;
  /**
   * Build a trainer for one configuration. Reads `learning_rate` (required) and
   * `batch_size` (optional) plus model-specific parameters.
   * @throws UsageError for a missing or out-of-range parameter.
   */
  createTrainer(tf: Tf, data: FashionData, params: Params, opts: TrainerOptions): Trainer;
}

const registry = new Map<string, ModelSpec>();

/** Add a model to the registry (the built-ins register themselves in models/index.ts). */
export function registerModel(spec: ModelSpec): void {
  if (registry.has(spec.name)) throw new UsageError(`model "${spec.name}" is already registered`);
  registry.set(spec.name, spec);
}

/**
 * Look a model up by name.
 * @throws UsageError naming the known models.
 */
export function getModel(name: string): ModelSpec {
  const m = registry.get(name);
  if (!m) throw new UsageError(`unknown model "${name}" (known: ${[...registry.keys()].join(', ')})`);
  return m;
}

/** Registered model names, in registration order. */
export function modelNames(): string[] {
  return [...registry.keys()];
}
