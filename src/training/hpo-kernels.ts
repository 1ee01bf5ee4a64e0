/**
 * tfjs-hpo's own TensorFlow kernels (src/native/, built by scripts/install-native.mjs):
 * HpoMatMulNN/NT/TN/TT, a single-precision GEMM registered into the libtensorflow that
 * tfjs-node loaded, so tfjs-node runs it like any TF op on TF's own tensors.
 *
 * Why our own GEMM: its result for one matrix product depends only on that product's rows,
 * columns and inner size, never on the batch it is computed in. A trial trained alone
 * (`--pack 1`) and the same trial trained as one slot of a pack (a batched product) then
 * get the same bits, which libtensorflow's MatMul and BatchMatMulV2 (different Eigen and
 * MKL-DNN paths per shape) do not give. It also picks AVX-512 or AVX2+FMA at run time
 * (libtensorflow 1.15 here is built without AVX2).
 *
 * The addon loads after tfjs-node's binding (it links the same libtensorflow) and registers
 * the ops once per process; every thread that uses them loads it to know they exist.
 * `TFJS_HPO_KERNELS=0` turns them off (tfjs-node's own MatMul then runs).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tf } from './data.js';
import { errorMessage } from '../errors.js';

/**
 * What the GEMM does to each final value v before storing it, with e the epilogue operand
 * (laid out like C): subFrom e - v, relu v > 0 ? v : 0, reluMask relu(v) * e, reluGrad
 * v * (e > 0 ? 1 : 0) (src/native/gemm.h).
 */
export type GemmEpilogue = 'none' | 'subFrom' | 'relu' | 'reluMask' | 'reluGrad';

/** What the addon exports (src/native/hpo_kernels.cc). */
export interface HpoKernelsAddon {
  /** Instruction set the GEMM picked on this CPU: avx512, avx2 or baseline. */
  readonly isa: string;
  /** Whether the TF ops were registered (false: registerError says why). */
  readonly registered: boolean;
  readonly registerError: string;
  /**
   * C[M,N] = op(A) op(B) on Float32Arrays (row-major), through `epilogue` with operand e
   * (M x N) when given; for tests and benchmarks.
   */
  sgemm(M: number, N: number, K: number, a: Float32Array, transA: boolean, b: Float32Array, transB: boolean, c: Float32Array, epilogue?: GemmEpilogue, e?: Float32Array): void;
  /**
   * Registers training images kept as bytes (rows x 784, in memory that outlives every use)
   * for the HpoGatherFlat1 / HpoGatherImage ops; returns the id they take.
   */
  registerPixels(images: Uint8Array): number;
  /**
   * Sets dropout stream `id` (-1: a new one) for the HpoDropoutMask op to a FastRng state
   * (4 uint32 words), drop threshold floor(p * 2^32) and keep value 1/(1-p); returns its id.
   * The op then draws exactly the masks FastRng.fillMask would, advancing the stream.
   */
  dropoutStream(id: number, state: readonly number[], threshold: number, keep: number): number;
  /** out[i] = bytes[i] / 255 with the vector body the pixel gathers use (for tests). */
  unitFloats(bytes: Uint8Array, out: Float32Array): void;
  /** Maps the whole pages inside `bytes` writable in one call (Linux 5.14+); false where unsupported. */
  prefault(bytes: Uint8Array): boolean;
}

/** Status of the kernels in this thread, for `hpo info` and benchmarks. */
export interface HpoKernelsStatus {
  readonly active: boolean;
  /** The GEMM's instruction set when active. */
  readonly isa?: string;
  /** Why they are not active. */
  readonly reason?: string;
}

const require = createRequire(import.meta.url);
const ENV = 'TFJS_HPO_KERNELS';

/** The package root: dist/src/training -> ../../.. (compiled) or src/training -> ../.. (ts). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4 && !existsSync(join(dir, 'package.json')); i++) dir = dirname(dir);
  return dir;
}

/** Where scripts/install-native.mjs leaves the built addon. */
export function hpoKernelsPath(): string {
  return join(packageRoot(), 'src', 'native', 'build', 'Release', 'hpo_kernels.node');
}


let addon: HpoKernelsAddon | undefined;
let status: HpoKernelsStatus | undefined;

/**
 * Loads the addon in this thread (registering the ops in the process on first load).
 * Call only once tfjs-node's binding is loaded. Never throws: the status says what happened.
 */
export function loadHpoKernels(): HpoKernelsStatus {
  if (status) return status;
  if (process.env[ENV] === '0') return (status = { active: false, reason: `${ENV}=0` });
  const file = hpoKernelsPath();
  if (!existsSync(file)) return (status = { active: false, reason: `not built (${file} is missing; npm install builds it)` });
  try {
    addon = require(file) as HpoKernelsAddon;
  } catch (e) {
    return (status = { active: false, reason: `failed to load: ${errorMessage(e).split('\n')[0]}` });
  }
  if (!addon.registered) return (status = { active: false, reason: `TF op registration failed: ${addon.registerError}` });
  return (status = { active: true, isa: addon.isa });
}

/** The addon, when loaded and its ops registered in this process. */
export function hpoKernels(): HpoKernelsAddon | undefined {
  return status?.active ? addon : undefined;
}

/** The TF op for a·b with the given transposes. */
export function matMulOpName(transposeA: boolean, transposeB: boolean): string {
  return `HpoMatMul${transposeA ? 'T' : 'N'}${transposeB ? 'T' : 'N'}`;
}

interface KernelTensor {
  readonly shape: readonly number[];
  readonly dtype: string;
}
interface NodeBackendLike {
  executeSingleOutput(name: string, attrs: readonly unknown[], inputs: readonly unknown[]): unknown;
}
interface KernelArgs {
  inputs: { a: KernelTensor; b: KernelTensor };
  attrs: { transposeA?: boolean; transposeB?: boolean };
  backend: NodeBackendLike;
}

/** Whether HpoMatMul takes these operands (float32, same rank 2 or 3, batch equal or 1). */
export function hpoMatMulFits(a: KernelTensor, b: KernelTensor): boolean {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== b.shape.length) return false;
  if (a.shape.length === 2) return true;
  if (a.shape.length !== 3) return false;
  const [ba, bb] = [a.shape[0]!, b.shape[0]!];
  return ba === bb || ba === 1 || bb === 1;
}

const installed = new WeakSet<object>();

/**
 * Routes tfjs's BatchMatMul kernel on the `tensorflow` backend (every tf.matMul, its
 * gradients, evaluation) through HpoMatMul when the operands fit, else through tfjs-node's
 * own kernel. Per thread (each thread has its own kernel registry); idempotent.
 * Returns whether the route is in place.
 */
export function routeMatMul(tf: Tf): boolean {
  if (!hpoKernels()) return false;
  if (installed.has(tf)) return true;
  const base = tf.getKernel('BatchMatMul', 'tensorflow');
  if (!base) return false;
  const baseFunc = base.kernelFunc as unknown as (args: KernelArgs) => unknown;
  tf.unregisterKernel('BatchMatMul', 'tensorflow');
  tf.registerKernel({
    ...base,
    kernelFunc: ((args: KernelArgs) => {
      const { a, b } = args.inputs;
      if (!hpoMatMulFits(a, b)) return baseFunc(args);
      return args.backend.executeSingleOutput(matMulOpName(args.attrs.transposeA === true, args.attrs.transposeB === true), [], [a, b]);
    }) as unknown as typeof base.kernelFunc,
  });
  installed.add(tf);
  return true;
}
