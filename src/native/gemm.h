#pragma once

namespace hpo {
// C[M,N] = op(A) * op(B), row-major, op = transpose when the flag is set; C overwritten.
void sgemm(int M, int N, int K, const float* A, bool transA, const float* B, bool transB, float* C);
// out[i] = bytes[i] / 255 (float division: for every byte the value of (float)(b / 255.0)).
void unitFloats(const unsigned char* bytes, int n, float* out);
// The instruction set the running CPU got: "avx512", "avx2" or "baseline".
const char* sgemmIsa();
}  // namespace hpo
