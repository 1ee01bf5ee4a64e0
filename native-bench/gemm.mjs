#!/usr/bin/env node
// tfjs-hpo's GEMM (HpoMatMul, src/native) against libtensorflow's own MatMul and
// BatchMatMulV2 on the products the built-in models run, one thread, in one process,
// alternating op by op; and against PyTorch's torch.mm (its BLAS, one thread: the peer's
// arithmetic) in a child process, alternating with them (2-D products; --no-torch skips it). Times are per call through tfjs-node's binding (TFE_Execute plus
// one N-API crossing, as the training steps call them); best of --rounds rounds, each the
// median of 3 batches of calls. Writes the "## matMul kernels" section of RESULTS.md.
// Run after `npx tsc -p tsconfig.json`:
//   node native-bench/gemm.mjs [--rounds 3] [--no-torch] [--python /usr/bin/python3] [--no-write]
//   TFJS_HPO_GEMM_ISA=avx2 node native-bench/gemm.mjs    (a lower body, in a section of its own)
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineChild, pythonPath, singleThreadEnv, warnUnlessOpenBlas } from './peer.mjs';
import { machineLine, opt, writeSection } from './results.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const rounds = Number(opt('rounds', '3'));

const { loadBackend } = await import(path.join(root, 'dist/src/training/backend.js'));
const { hpoKernels, matMulOpName } = await import(path.join(root, 'dist/src/training/hpo-kernels.js'));
const { tf } = await loadBackend('tensorflow', { intraOpThreads: 1, interOpThreads: 1 });
const kernels = hpoKernels();
if (!kernels) throw new Error('tfjs-hpo kernels are not loaded (npm install builds them; TFJS_HPO_KERNELS unset)');
const be = tf.backend();
const b = be.binding;
// The peer's matmul, when torch imports (python3-torch with libopenblas0-pthread).
const py = pythonPath(opt('python'));
let torch = null;
let torchHello = null;
if (!args.includes('--no-torch')) {
  torch = lineChild('PyTorch matmul', py, [fileURLToPath(new URL('./peer/matmul.py', import.meta.url))], singleThreadEnv());
  torchHello = await torch.read().catch((e) => {
    process.stderr.write(`no PyTorch column: ${e.message} (apt-get install -y python3-torch libopenblas0-pthread)\n`);
    return null;
  });
  if (torchHello) warnUnlessOpenBlas(torchHello.blas);
  else torch = null;
}

// [label, batch (0: plain 2-D), M, N, K, transposeA, transposeB]
const CASES = [
  ['softmax b16: x W', 0, 16, 10, 785, false, false],
  ['softmax b16: x^T d', 0, 785, 10, 16, true, false],
  ['MLP b256 H128: x W1', 0, 256, 128, 785, false, false],
  ['MLP b256 H128: x^T dpre', 0, 785, 128, 256, true, false],
  ['MLP b256 H128: h W2', 0, 256, 10, 128, false, false],
  ['MLP b256 H512: x W1', 0, 256, 512, 785, false, false],
  ['MLP b256 H512: x^T dpre', 0, 785, 512, 256, true, false],
  ['MLP eval 5000 rows H512: x W1', 0, 5000, 512, 785, false, false],
  ['LeNet b64 conv1 im2col: cols W', 0, 64 * 784, 6, 25, false, false],
  ['LeNet b64 conv1 filter grad', 0, 25, 6, 64 * 784, true, false],
  ['LeNet b64 conv2 im2col: cols W', 0, 64 * 100, 16, 150, false, false],
  ['packed softmax K=8 b16: x W', 8, 16, 10, 785, false, false],
  ['packed softmax K=8 b16: x^T d', 8, 785, 10, 16, true, false],
  ['packed MLP K=4 b256 H128: x W1', 4, 256, 128, 785, false, false],
];

function operands(batch, M, N, K, ta, tb) {
  const lead = batch ? [batch] : [];
  const a = tf.randomNormal([...lead, ...(ta ? [K, M] : [M, K])]);
  const bb = tf.randomNormal([...lead, ...(tb ? [N, K] : [K, N])]);
  return [a, bb];
}

const tfAttrs = (batch, ta, tb) =>
  batch
    ? [{ name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT }, { name: 'adj_x', type: b.TF_ATTR_BOOL, value: ta }, { name: 'adj_y', type: b.TF_ATTR_BOOL, value: tb }]
    : [{ name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT }, { name: 'transpose_a', type: b.TF_ATTR_BOOL, value: ta }, { name: 'transpose_b', type: b.TF_ATTR_BOOL, value: tb }];

function timeOp(op, attrs, ids, calls) {
  const per = [];
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) b.deleteTensor(b.executeOp(op, attrs, ids, 1)[0].id);
    per.push(Number(process.hrtime.bigint() - t0) / calls / 1000);
  }
  return per.sort((x, y) => x - y)[1];
}

const rows = [];
for (const [label, batch, M, N, K, ta, tb] of CASES) {
  const [a, bb] = operands(batch, M, N, K, ta, tb);
  const ids = be.getInputTensorIds([a, bb]);
  const flops = 2 * (batch || 1) * M * N * K;
  const calls = Math.max(5, Math.min(2000, Math.round(2e8 / flops)));
  const theirs = batch ? 'BatchMatMulV2' : 'MatMul';
  let best = { tf: Infinity, ours: Infinity, torch: Infinity };
  for (let r = 0; r < rounds; r++) {
    best.tf = Math.min(best.tf, timeOp(theirs, tfAttrs(batch, ta, tb), ids, calls));
    best.ours = Math.min(best.ours, timeOp(matMulOpName(ta, tb), [], ids, calls));
    if (torch && !batch) best.torch = Math.min(best.torch, (await torch.ask({ M, N, K, ta, tb, calls })).us);
  }
  rows.push({ label, shape: `${batch ? `${batch} x ` : ''}[${M}, ${K}] x [${K}, ${N}]${ta || tb ? ` (${ta ? 'A' : ''}${ta && tb ? ', ' : ''}${tb ? 'B' : ''} transposed)` : ''}`, theirs, ...best, gflops: flops / best.ours / 1e3 });
  tf.dispose([a, bb]);
  process.stderr.write(`gemm: ${label}: ${theirs} ${best.tf.toFixed(1)} us, HpoMatMul ${best.ours.toFixed(1)} us${Number.isFinite(best.torch) ? `, torch.mm ${best.torch.toFixed(1)} us` : ''}\n`);
}
await torch?.close();

const load = os.loadavg()[0].toFixed(1);
const section = [
  machineLine([
    `libtensorflow ${b.TF_Version}, 1 intra-op / 1 inter-op thread`,
    `tfjs-hpo GEMM body: ${kernels.isa}`,
    ...(torchHello ? [`PyTorch ${torchHello.torch} (${py}), 1 thread, BLAS: ${torchHello.blas.name}`] : []),
    `1-min load average at the end ${load}`,
  ]),
  '',
  'Command: `npx tsc -p tsconfig.json && ' + (process.env.TFJS_HPO_GEMM_ISA ? `TFJS_HPO_GEMM_ISA=${process.env.TFJS_HPO_GEMM_ISA} ` : '') + 'node native-bench/gemm.mjs' + (rounds !== 3 ? ` --rounds ${rounds}` : '') + '`. Per call through tfjs-node\'s binding, one thread, the ops alternating (PyTorch\'s in its child process); best of ' + rounds + ' rounds of the median of 3 batches of calls. libtensorflow 1.15 runs MatMul through MKL-DNN\'s JIT GEMM (AVX-512 here) and BatchMatMulV2 through Eigen.',
  '',
  ...(torchHello ? ['', 'PyTorch: `native-bench/peer/matmul.py`, `torch.mm` on operands of the same layout (a transposed operand as a transposed view), timed the same way; the peer\'s arithmetic in the whole-study comparison.'] : []),
  '',
  '| product | shape | libtensorflow op | libtensorflow | HpoMatMul | HpoMatMul / libtensorflow | PyTorch torch.mm | HpoMatMul / PyTorch | HpoMatMul GFLOP/s |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const pt = Number.isFinite(r.torch) ? [`${r.torch.toFixed(1)} us`, (r.ours / r.torch).toFixed(2)] : ['-', '-'];
    return `| ${r.label} | ${r.shape} | ${r.theirs} | ${r.tf.toFixed(1)} us | ${r.ours.toFixed(1)} us | ${(r.ours / r.tf).toFixed(2)} | ${pt[0]} | ${pt[1]} | ${r.gflops.toFixed(0)} |`;
  }),
].join('\n');
console.log(section);
// A body forced with TFJS_HPO_GEMM_ISA (avx2, baseline) gets a section of its own, so the
// bodies this CPU does not pick by itself are measured too.
const forced = process.env.TFJS_HPO_GEMM_ISA ? ` (${kernels.isa} body, TFJS_HPO_GEMM_ISA=${process.env.TFJS_HPO_GEMM_ISA})` : '';
if (!args.includes('--no-write')) writeSection(`matMul kernels${forced}`, section);
