#pragma once

namespace hpo {
// C[M,N] = op(A) * op(B), row-major, op = transpose when the flag is set; C overwritten.
void sgemm(int M, int N, int K, const float* A, bool transA, const float* B, bool transB, float* C);
// The instruction set the running CPU got: "avx512", "avx2" or "baseline".
const char* sgemmIsa();
}  // namespace hpo
