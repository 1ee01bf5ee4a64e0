import type * as tfTypes from '@tensorflow/tfjs';
import type { Params } from '../../space/distribution.js';
import type { Layout, Tf } from '../data.js';
import { encodeVariables, loadVariables } from '../checkpoint.js';
import type { Handle, NativeOps } from '../native-ops.js';

/** One trial's place in a pack: what its slot is built from. */
export interface PackMember {
  /** Caller's key for the member (the trial number). */
  readonly id: number;
  /** Trial seed: init, data order and dropout masks derive from it exactly as for one trial. */
  readonly seed: number;
  readonly params: Params;
  /**
   * A checkpoint to start from instead of the init: the weights after `epoch`, in the
   * single-trial trainer's format (its saveState), so a trial can resume packed or alone
   * whichever way it was checkpointed.
   */
  readonly resume?: { readonly epoch: number; readonly data: Uint8Array } | null;
}

/** Per-step constants of a pack, one value per slot, shaped [K, 1, 1] to broadcast over [K, B, n]. */
export interface PackScalars {
  /** lr_k / rows for every member k. */
  readonly lrOverB: tfTypes.Tensor3D;
}

/**
 * K networks of one family trained as one: every variable is stacked on a leading slot
 * axis, and a step runs batched ops over all slots. Slot k must compute exactly what the
 * single-trial Net computes for member k (same init, same masks, same update), up to the
 * rounding of batched kernels.
 */
export interface PackedNet {
  /** Members in slot order. */
  readonly members: readonly PackMember[];
  /**
   * Re-form the pack between epochs: keep the slots listed in `keep` (indices into the
   * current members, in that order), then append `joins` with a fresh init each (or the
   * weights of its `resume` checkpoint).
   * @throws UsageError when a joining member's parameters are invalid, TrialError when its
   *   checkpoint does not fit its model (nothing changes then).
   */
  regroup(keep: readonly number[], joins: readonly PackMember[]): void;
  /** Slot k's weights as the single-trial trainer's checkpoint holds them (its saveState). */
  saveSlot(k: number): Uint8Array;
  /** Before an epoch: slot k is about to run its epoch `epochs[k]` (0-based); e.g. reseeds dropout. */
  startEpoch?(epochs: readonly number[]): void;
  /** One SGD step for every slot (inside tf.tidy): x [K, B, ...], y one-hot [K, B, 10]. */
  step(x: tfTypes.Tensor, y: tfTypes.Tensor3D, s: PackScalars): void;
  /**
   * The step as raw TensorFlow eager ops, used on the tensorflow backend when tfjs-hpo's
   * GEMM is loaded: x [K, rows, ...] gathered, labels int32 [K * rows]. Per slot it runs
   * the single net's nativeStep op for op (row-wise ops on [K * rows, ...], per-slot
   * scalars, HpoMatMul products whose bits do not depend on the batch), so a packed trial
   * gets exactly the numbers it gets alone. Frees what it creates, not x or labels.
   */
  nativeStep?(ops: NativeOps, x: Handle, labels: Handle, s: PackScalars, rows: number): void;
  /**
   * A whole epoch as one tfjs-hpo op that reads the training rows itself (when the images
   * are kept as bytes): `source` names them, idx and labels are int32 [K, n], every slot's
   * minibatches of `batch` columns in order, `full` the scalars of a whole minibatch and
   * `tail` those of a shorter last one. Gives the bits of nativeStep run minibatch by
   * minibatch. Frees what it creates, not its arguments.
   */
  fusedEpoch?(ops: NativeOps, source: Handle, idx: Handle, labels: Handle, full: PackScalars, tail: PackScalars, batch: number): void;
  /** Inference logits [K, N, 10] of a chunk x [N, ...] shared by every slot (inside tf.tidy). */
  logits(x: tfTypes.Tensor): tfTypes.Tensor3D;
  dispose(): void;
}

/** A model family that can be packed. */
export interface PackedModelSpec {
  readonly name: string;
  /** How the pixels sit on the backend (as the single-trial model uses them). */
  readonly layout: Layout;
  /** Test rows per inference chunk. */
  readonly evalChunk: number;
  /**
   * What, beyond the model and the batch size, a trial must share with the others of its
   * pack (e.g. the MLP's width bucket). Throws UsageError for invalid parameters.
   */
  shapeKey(params: Params): string;
  /** The batch size the trial trains with (its batch_size or the model default). */
  batchSize(params: Params): number;
  createNet(tf: Tf): PackedNet;
}

/**
 * a·b over a leading batch axis with transpose flags. On wasm a transposed matMul is
 * several times slower than an explicit Transpose and a plain one (see models/common.ts),
 * so the transposes are explicit there.
 */
export function batchMatMul(tf: Tf, a: tfTypes.Tensor3D, b: tfTypes.Tensor3D, transposeA: boolean, transposeB: boolean): tfTypes.Tensor3D {
  if ((transposeA || transposeB) && tf.getBackend() === 'wasm') {
    return tf.matMul(transposeA ? tf.transpose(a, [0, 2, 1]) : a, transposeB ? tf.transpose(b, [0, 2, 1]) : b);
  }
  return tf.matMul(a, b, transposeA, transposeB);
}

/** Stack equally shaped tensors on a new slot axis 0 (a single tensor is just expanded). */
export function stackSlots(tf: Tf, ts: readonly tfTypes.Tensor[]): tfTypes.Tensor {
  return ts.length === 1 ? tf.expandDims(ts[0]!, 0) : tf.stack([...ts], 0);
}

/** Slot k of a stacked tensor, without its slot axis. */
export function slot(tf: Tf, t: tfTypes.Tensor, k: number): tfTypes.Tensor {
  const begin = t.shape.map((_, i) => (i === 0 ? k : 0));
  const size = t.shape.map((d, i) => (i === 0 ? 1 : d));
  return tf.reshape(tf.slice(t, begin, size), t.shape.slice(1));
}

/** Replace a variable's value by a new tensor of any shape (variables cannot change shape). */
export function replaceVariable(tf: Tf, old: tfTypes.Variable | null, value: tfTypes.Tensor): tfTypes.Variable {
  old?.dispose();
  return tf.variable(value, true);
}

/**
 * Use a joining member's single-trial net (its init, or its checkpoint's weights when it
 * resumes) inside `use`, then free it.
 * @throws TrialError when the checkpoint does not fit the net.
 */
export function withSingleNet<N extends { readonly variables: readonly tfTypes.Variable[]; dispose(): void }>(
  tf: Tf,
  net: N,
  m: PackMember,
  use: (net: N) => void,
): void {
  try {
    if (m.resume) loadVariables(tf, net.variables, m.resume.data);
    use(net);
  } finally {
    net.dispose();
  }
}

/** A checkpoint in the single trainer's format of the tensors `make` returns (made inside tf.tidy, freed after). */
export function encodeSlot(tf: Tf, make: () => tfTypes.Tensor[]): Uint8Array {
  const ts = tf.tidy(make);
  try {
    return encodeVariables(ts);
  } finally {
    tf.dispose(ts);
  }
}
