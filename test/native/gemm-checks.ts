/**
 * Checks of tfjs-hpo's GEMM (src/native) on Float32Arrays, run by gemm.test.ts once per
 * instruction set in a child process (TFJS_HPO_GEMM_ISA picks the body at load time).
 * Prints one JSON line: {isa, failures: string[], checked: number}.
 */
import { createRequire } from 'node:module';
import { hpoKernelsPath, type GemmEpilogue, type HpoKernelsAddon } from '../../src/training/hpo-kernels.js';

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}


export function runGemmChecks(): { isa: string; failures: string[]; checked: number } {
  const k = createRequire(import.meta.url)(hpoKernelsPath()) as HpoKernelsAddon;
  const failures: string[] = [];
  let checked = 0;
  const gemm = (M: number, N: number, K: number, a: Float32Array, ta: boolean, b: Float32Array, tb: boolean): Float32Array => {
    const c = new Float32Array(M * N).fill(Number.NaN);
    k.sgemm(M, N, K, a, ta, b, tb, c);
    return c;
  };

  // 1. Against a float64 reference: edge tiles in every direction, K across the 256 blocks.
  const shapes: [number, number, number][] = [
    [1, 1, 1], [5, 10, 7], [16, 16, 16], [17, 33, 255], [33, 17, 256], [9, 100, 257], [300, 10, 600],
    [64, 6, 25], [25, 6, 700], [8, 1, 31], [1, 40, 785], [129, 65, 3], [7, 32, 513],
  ];
  for (const [M, N, K] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = values(M * K, M * 31 + K);
        const b = values(K * N, N * 17 + K);
        const c = gemm(M, N, K, a, ta, b, tb);
        let worst = 0;
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let ref = 0;
            let mag = 0;
            for (let q = 0; q < K; q++) {
              // op(A)[i, q] of A stored [M, K] (or [K, M]); op(B)[q, j] of B stored [K, N] (or [N, K]).
              const p = (ta ? a[q * M + i]! : a[i * K + q]!) * (tb ? b[j * K + q]! : b[q * N + j]!);
              ref += p;
              mag += Math.abs(p);
            }
            worst = Math.max(worst, Math.abs(c[i * N + j]! - ref) / (mag * 1e-6 + 1e-30));
          }
        }
        checked++;
        if (!(worst <= 1)) failures.push(`${M}x${N}x${K} ta=${ta} tb=${tb}: error ${worst.toExponential(2)} x 1e-6 of sum |a b| (or NaN left)`);
      }
    }
  }

  // 2. An element's bits depend only on its row of op(A), its column of op(B) and K: the
  //    first n columns of a wide product equal the narrow product (packed MLP widths), the
  //    first m rows equal the short product, and zeros appended to K change nothing.
  for (const [M, Nwide, n, K] of [[40, 100, 10, 300], [40, 48, 17, 785], [19, 130, 128, 64], [256, 40, 16, 20], [12, 64, 17, 300], [9, 128, 40, 785]] as const) {
    const a = values(M * K, 5 + K);
    const wideB = values(K * Nwide, 9 + Nwide);
    const narrowB = new Float32Array(K * n);
    for (let q = 0; q < K; q++) narrowB.set(wideB.subarray(q * Nwide, q * Nwide + n), q * n);
    const wide = gemm(M, Nwide, K, a, false, wideB, false);
    const narrow = gemm(M, n, K, a, false, narrowB, false);
    checked++;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < n; j++) {
        if (!Object.is(wide[i * Nwide + j], narrow[i * n + j])) {
          failures.push(`columns: ${M}x${Nwide}x${K} vs first ${n} columns differ at (${i}, ${j})`);
          i = M;
          break;
        }
      }
    }
    const m = Math.max(1, M >> 1) + 1;
    const short = gemm(m, Nwide, K, a.subarray(0, m * K), false, wideB, false);
    checked++;
    if (!short.every((v, i) => Object.is(v, wide[i]))) failures.push(`rows: first ${m} rows of ${M}x${Nwide}x${K} differ`);
  }
  for (const [M, N, K, Kpad] of [[12, 10, 250, 260], [20, 40, 256, 300], [5, 128, 100, 512]] as const) {
    const a = values(M * K, 3);
    const b = values(K * N, 4);
    const ap = new Float32Array(M * Kpad);
    for (let i = 0; i < M; i++) ap.set(a.subarray(i * K, (i + 1) * K), i * Kpad);
    const bp = new Float32Array(Kpad * N);
    bp.set(b);
    const c = gemm(M, N, K, a, false, b, false);
    const cp = gemm(M, N, Kpad, ap, false, bp, false);
    checked++;
    if (!c.every((v, i) => Object.is(v, cp[i]))) failures.push(`zero padding: K ${K} -> ${Kpad} changes the product`);
  }
  // 3. Epilogues: each final value goes through one IEEE operation (or a select) exactly as
  //    the separate op would apply it to the stored product (JavaScript's double arithmetic
  //    rounded to float is the correctly rounded float result for - and *), on narrow, wide,
  //    transposed and multi-block (K > 256) products, and K = 0.
  const epilogues: Record<Exclude<GemmEpilogue, 'none'>, (p: number, e: number) => number> = {
    subFrom: (p, e) => Math.fround(e - p),
    relu: (p) => (p > 0 ? p : 0),
    reluMask: (p, e) => Math.fround((p > 0 ? p : 0) * e),
    reluGrad: (p, e) => Math.fround(p * (e > 0 ? 1 : 0)),
  };
  for (const [M, N, K] of [[16, 10, 785], [33, 17, 256], [9, 100, 257], [300, 10, 20], [7, 40, 600], [5, 3, 0]] as const) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = values(M * K, M + 7 * K);
      const b = values(K * N, N + 3 * K);
      const plain = gemm(M, N, K, a, ta, b, tb);
      // Operands with exact zeros, negatives and a dropout-like 1.25.
      const e = values(M * N, 99).map((v, i) => (i % 5 === 0 ? 0 : i % 7 === 0 ? 1.25 : v));
      for (const [name, f] of Object.entries(epilogues) as [GemmEpilogue, (p: number, e: number) => number][]) {
        const c = new Float32Array(M * N).fill(Number.NaN);
        k.sgemm(M, N, K, a, ta, b, tb, c, name, e);
        checked++;
        const bad = [...c.keys()].filter((i) => !Object.is(c[i], f(plain[i]!, e[i]!)));
        if (bad.length) failures.push(`epilogue ${name} ${M}x${N}x${K} ta=${ta} tb=${tb}: ${bad.length} values differ (first at ${bad[0]})`);
      }
    }
  }
  // 4. The pixel conversion of this body: every byte value (at every lane position, and in
  // the scalar tail) gives what JavaScript's b / 255 stores into a Float32Array.
  for (const n of [256, 784, 3]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
    const out = new Float32Array(n);
    k.unitFloats(bytes, out);
    checked++;
    const bad = [...bytes.keys()].filter((i) => !Object.is(out[i], Math.fround(bytes[i]! / 255)));
    if (bad.length) failures.push(`unitFloats: ${bad.length} of ${n} bytes differ from b / 255 (first: ${bytes[bad[0]!]})`);
  }
  return { isa: k.isa, failures, checked };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  console.log(JSON.stringify(runGemmChecks()));
}
