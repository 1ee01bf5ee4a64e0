import type { Params } from '../space/distribution.js';
import type { FashionData, Tf } from './data.js';
import { getModel } from './models/index.js';
import type { StepKind } from './models/model.js';

export type { FashionData, Tf } from './data.js';
export { fashionTensors, releaseFashionTensors } from './data.js';

/** What runFashionTrial needs from the trial (a subset of TrialContext). */
export interface FashionTrialContext {
  /** Per-trial seed: weight init, data order and dropout all derive from it. */
  readonly seed: number;
  /** Epochs to train unless the scheduler stops the trial earlier. */
  readonly maxEpochs: number;
  /** Train on the first N training images only. */
  readonly trainSubset?: number;
  /** Step implementation; default 'lean'. */
  readonly step?: StepKind;
  /** Report test error after `epoch` (1-based); resolves true when the trial must stop. */
  report(epoch: number, value: number): Promise<boolean>;
  /** State after this epoch to continue from (weights; shuffles and dropout derive from the epoch). */
  readonly resume?: { readonly epoch: number; readonly data: Uint8Array } | null;
  /** Store the trainer's state after `epoch` (called after its report unless it was the last). */
  checkpoint?(epoch: number, data: Uint8Array): Promise<void>;
}

/**
 * Train `modelName` on Fashion-MNIST with `params`, reporting the test-set error after
 * every epoch. Returns the last reported error (the value after the last epoch run; NaN
 * if maxEpochs is 0). The trainer's tensors are freed however this ends; the shared
 * dataset tensors stay cached for the worker's next trial.
 * @throws UsageError for an unknown model or a bad parameter; whatever report throws.
 */
export async function runFashionTrial(tf: Tf, data: FashionData, modelName: string, params: Params, ctx: FashionTrialContext): Promise<number> {
  const model = getModel(modelName);
  if (!Number.isSafeInteger(ctx.maxEpochs) || ctx.maxEpochs < 0) throw new RangeError(`maxEpochs must be a non-negative integer, got ${ctx.maxEpochs}`);
  const opts = { seed: ctx.seed, step: ctx.step ?? 'lean', ...(ctx.trainSubset !== undefined ? { trainSubset: ctx.trainSubset } : {}) } as const;
  const trainer = model.createTrainer(tf, data, params, opts);
  let last = Number.NaN;
  try {
    const from = ctx.resume?.epoch ?? 0;
    if (ctx.resume) trainer.loadState(ctx.resume.data);
    for (let epoch = from; epoch < ctx.maxEpochs; epoch++) {
      trainer.trainEpoch(epoch);
      last = trainer.validationError();
      if (await ctx.report(epoch + 1, last)) break;
      // Not after the last epoch: the trial ends there and its checkpoint would be deleted.
      if (ctx.checkpoint && epoch + 1 < ctx.maxEpochs) await ctx.checkpoint(epoch + 1, trainer.saveState());
    }
    return last;
  } finally {
    trainer.dispose();
  }
}
