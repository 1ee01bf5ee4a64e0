/** The built-in models, registered by name. Import this module to populate the registry. */
import { registerModel } from './model.js';
import { softmaxModel } from './softmax.js';
import { mlpModel } from './mlp.js';
import { lenetModel } from './lenet.js';

export const builtinModels = [softmaxModel, mlpModel, lenetModel] as const;
for (const m of builtinModels) registerModel(m);

export { getModel, modelNames, registerModel } from './model.js';
export type { ModelSpec, Trainer, TrainerOptions, StepKind, ModelDefaults } from './model.js';
