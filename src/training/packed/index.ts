/** The packable built-in models, by name. */
import type { PackedModelSpec } from './packed-net.js';
import { packedSoftmax } from './softmax.js';
import { packedMlp } from './mlp.js';
import { packedLeNet } from './lenet.js';

const packed = new Map<string, PackedModelSpec>([packedSoftmax, packedMlp, packedLeNet].map((s) => [s.name, s]));

/** The packed form of a built-in model, or undefined when the model cannot be packed. */
export function packedModel(name: string): PackedModelSpec | undefined {
  return packed.get(name);
}

export { PackedTrainer } from './packed-trainer.js';
export type { PackedModelSpec, PackedNet, PackMember } from './packed-net.js';
