// Single-precision GEMM body, included once per instruction set by gemm.cc with
// GEMM_NS (namespace), GEMM_VL (floats per vector) and GEMM_MR (rows per micro-tile) set.
//
// C[M,N] = op(A)[M,K] * op(B)[K,N], all row-major and contiguous, C overwritten.
// Classic three-level blocking: a KC x NC panel of op(B) and an MC x KC block of op(A) are
// packed into contiguous, zero-padded buffers; a register-resident MR x NR micro-kernel
// (NR = 2 vectors) walks them. The order of additions for one element of C depends only
// on K (and the fixed block sizes), never on M, N or a batch index, so the same product
// computed alone or as one member of a batch gives the same bits.

namespace GEMM_NS {

typedef float vf __attribute__((vector_size(GEMM_VL * 4), aligned(4)));
constexpr int VL = GEMM_VL;
constexpr int MR = GEMM_MR;
constexpr int NR = 2 * VL;
constexpr int KC = 256;
constexpr int MC = MR * 16;
constexpr int NC = NR * 64;

static inline vf load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
static inline void store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof v); }

// Packs rows [i0, i0+mc) x cols [k0, k0+kc) of op(A) into MR-row slivers: for each
// sliver, kc groups of MR values (one per row), rows past mc padded with zeros.
static void packA(const float* A, bool transA, int M, int K, int i0, int mc, int k0, int kc, float* out) {
  for (int s = 0; s < mc; s += MR) {
    const int rows = mc - s < MR ? mc - s : MR;
    for (int k = 0; k < kc; ++k) {
      for (int r = 0; r < rows; ++r) {
        const int i = i0 + s + r, kk = k0 + k;
        out[k * MR + r] = transA ? A[(size_t)kk * M + i] : A[(size_t)i * K + kk];
      }
      for (int r = rows; r < MR; ++r) out[k * MR + r] = 0.f;
    }
    out += (size_t)kc * MR;
  }
}

// Packs rows [k0, k0+kc) x cols [j0, j0+nc) of op(B) into NR-column slivers.
static void packB(const float* B, bool transB, int K, int N, int k0, int kc, int j0, int nc, float* out) {
  for (int s = 0; s < nc; s += NR) {
    const int cols = nc - s < NR ? nc - s : NR;
    for (int k = 0; k < kc; ++k) {
      float* o = out + (size_t)k * NR;
      const int kk = k0 + k;
      if (!transB && cols == NR) {
        __builtin_memcpy(o, B + (size_t)kk * N + j0 + s, NR * sizeof(float));
        continue;
      }
      for (int c = 0; c < cols; ++c) {
        const int j = j0 + s + c;
        o[c] = transB ? B[(size_t)j * K + kk] : B[(size_t)kk * N + j];
      }
      for (int c = cols; c < NR; ++c) o[c] = 0.f;
    }
    out += (size_t)kc * NR;
  }
}

// acc[MR][2] = sum over k of a[k][r] * b[k][0..NR); then C (+)= acc for the valid part.
static inline void micro(int kc, const float* __restrict a, const float* __restrict b, float* C, int ldc, int rows, int cols, bool accumulate) {
  vf acc[MR][2];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = vf{};
  for (int k = 0; k < kc; ++k) {
    const vf b0 = load(b), b1 = load(b + VL);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const vf av = vf{} + a[r];
      acc[r][0] += av * b0;
      acc[r][1] += av * b1;
    }
    a += MR;
    b += NR;
  }
  if (rows == MR && cols == NR) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      float* c = C + (size_t)r * ldc;
      if (accumulate) {
        store(c, load(c) + acc[r][0]);
        store(c + VL, load(c + VL) + acc[r][1]);
      } else {
        store(c, acc[r][0]);
        store(c + VL, acc[r][1]);
      }
    }
    return;
  }
  float tile[MR][NR];
  for (int r = 0; r < MR; ++r) {
    store(tile[r], acc[r][0]);
    store(tile[r] + VL, acc[r][1]);
  }
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      float* p = C + (size_t)r * ldc + c;
      *p = accumulate ? *p + tile[r][c] : tile[r][c];
    }
}

// Scratch: packed panels, grown on demand, one set per thread.
struct Scratch {
  float* a = nullptr;
  float* b = nullptr;
  ~Scratch() {
    std::free(a);
    std::free(b);
  }
};

void sgemm(int M, int N, int K, const float* A, bool transA, const float* B, bool transB, float* C) {
  static thread_local Scratch scratch;
  if (!scratch.a) {
    scratch.a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    scratch.b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
  }
  if (K == 0) {
    for (size_t i = 0; i < (size_t)M * N; ++i) C[i] = 0.f;
    return;
  }
  for (int j0 = 0; j0 < N; j0 += NC) {
    const int nc = N - j0 < NC ? N - j0 : NC;
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = K - k0 < KC ? K - k0 : KC;
      packB(B, transB, K, N, k0, kc, j0, nc, scratch.b);
      for (int i0 = 0; i0 < M; i0 += MC) {
        const int mc = M - i0 < MC ? M - i0 : MC;
        packA(A, transA, M, K, i0, mc, k0, kc, scratch.a);
        for (int jr = 0; jr < nc; jr += NR) {
          const float* bp = scratch.b + (size_t)(jr / NR) * kc * NR;
          for (int ir = 0; ir < mc; ir += MR) {
            const float* ap = scratch.a + (size_t)(ir / MR) * kc * MR;
            micro(kc, ap, bp, C + (size_t)(i0 + ir) * N + j0 + jr, N, mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR, k0 > 0);
          }
        }
      }
    }
  }
}

}  // namespace GEMM_NS
