// Runtime choice of the GEMM body: AVX-512, AVX2+FMA or the compiler's baseline, picked
// once from the CPU the process runs on (the addon may be built on one machine and run on
// another of the same architecture).
#include "gemm.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,fma")
#define GEMM_NS gemm_avx512
#define GEMM_VL 16
#define GEMM_MR 8
#include "gemm-impl.h"
#undef GEMM_NS
#undef GEMM_VL
#undef GEMM_MR
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define GEMM_NS gemm_avx2
#define GEMM_VL 8
#define GEMM_MR 6
#include "gemm-impl.h"
#undef GEMM_NS
#undef GEMM_VL
#undef GEMM_MR
#pragma GCC pop_options
#define HPO_GEMM_X86 1
#endif

#define GEMM_NS gemm_base
#define GEMM_VL 4
#define GEMM_MR 4
#include "gemm-impl.h"
#undef GEMM_NS
#undef GEMM_VL
#undef GEMM_MR

namespace hpo {

using Fn = void (*)(int, int, int, const float*, bool, const float*, bool, float*, Epilogue, const float*);
using UnitFn = void (*)(const unsigned char*, int, float*);

// TFJS_HPO_GEMM_ISA=avx2|baseline caps the choice (tests run every body on one machine).
static Fn pick(const char** name, UnitFn* unit) {
  const char* cap = std::getenv("TFJS_HPO_GEMM_ISA");
  const bool noAvx512 = cap && (std::strcmp(cap, "avx2") == 0 || std::strcmp(cap, "baseline") == 0);
  const bool noAvx2 = cap && std::strcmp(cap, "baseline") == 0;
#ifdef HPO_GEMM_X86
  __builtin_cpu_init();
  if (!noAvx512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    *name = "avx512";
    *unit = gemm_avx512::unitFloats;
    return gemm_avx512::sgemm;
  }
  if (!noAvx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    *name = "avx2";
    *unit = gemm_avx2::unitFloats;
    return gemm_avx2::sgemm;
  }
#else
  (void)noAvx512;
  (void)noAvx2;
#endif
  *name = "baseline";
  *unit = gemm_base::unitFloats;
  return gemm_base::sgemm;
}

static const char* chosen = nullptr;
static UnitFn unitImpl = nullptr;
static const Fn impl = pick(&chosen, &unitImpl);

void sgemm(int M, int N, int K, const float* A, bool transA, const float* B, bool transB, float* C, Epilogue e, const float* E) {
  impl(M, N, K, A, transA, B, transB, C, e, E);
}

const char* sgemmIsa() { return chosen; }

void unitFloats(const unsigned char* bytes, int n, float* out) { unitImpl(bytes, n, out); }

}  // namespace hpo
