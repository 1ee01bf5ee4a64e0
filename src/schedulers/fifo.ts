import type { Decision, Scheduler, TrialPlan } from './scheduler.js';

/** Every trial trains `maxEpochs` epochs; nothing is ever stopped early (plain random search). */
export class FifoScheduler implements Scheduler {
  readonly name = 'fifo';
  readonly synchronous = false;

  constructor(readonly maxEpochs: number) {}

  plan(): TrialPlan {
    return { maxEpochs: this.maxEpochs, bracket: null };
  }

  decide(): Promise<Decision> {
    return Promise.resolve('continue');
  }

  wake(): void {}
}
