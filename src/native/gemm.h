#pragma once

namespace hpo {
// What the product's final values go through before they are stored, elementwise, with E an
// [M, N] row-major array laid out like C (unused by Relu):
//   None:     C = P
//   SubFrom:  C = E - P                 (an SGD update W - grad; TensorFlow's Sub)
//   Relu:     C = P > 0 ? P : 0
//   ReluMask: C = (P > 0 ? P : 0) * E   (a dropout mask; Relu then TensorFlow's Mul)
//   ReluGrad: C = P * (E > 0 ? 1 : 0)   (TensorFlow's ReluGrad, E the layer's output)
// Each is one IEEE operation (or a select) on P as sgemm computes it, so the bits are those
// of the product stored and the separate op run on it.
enum class Epilogue { None, SubFrom, Relu, ReluMask, ReluGrad };

// C[M,N] = op(A) * op(B), row-major, op = transpose when the flag is set; C overwritten,
// after the epilogue `e` (E as described above).
void sgemm(int M, int N, int K, const float* A, bool transA, const float* B, bool transB, float* C, Epilogue e = Epilogue::None,
           const float* E = nullptr);
// out[i] = bytes[i] / 255 (float division: for every byte the value of (float)(b / 255.0)).
void unitFloats(const unsigned char* bytes, int n, float* out);
// The instruction set the running CPU got: "avx512", "avx2" or "baseline".
const char* sgemmIsa();
}  // namespace hpo
