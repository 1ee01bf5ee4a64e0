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
constexpr int MC = MR * 32;
constexpr int NC = NR * 64;

// Unaligned moves. With AVX2 as a target attribute, GCC's generic tuning lowered the 32-byte
// memcpy to two 16-byte halves through the stack (a store-forwarding stall on every load of
// B, and the accumulators spilled): 4.8 GFLOP/s instead of 50+. The intrinsics are one move.
static inline vf load(const float* p) {
#if GEMM_VL == 16
  return (vf)_mm512_loadu_ps(p);
#elif GEMM_VL == 8
  return (vf)_mm256_loadu_ps(p);
#else
  vf v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
#endif
}
static inline void store(float* p, vf v) {
#if GEMM_VL == 16
  _mm512_storeu_ps(p, (__m512)v);
#elif GEMM_VL == 8
  _mm256_storeu_ps(p, (__m256)v);
#else
  __builtin_memcpy(p, &v, sizeof v);
#endif
}
// The first n (0 < n <= VL) floats at p, zeros after, and the first n lanes of v stored at
// p: nothing past p + n is read or written (masked moves where the instruction set has them).
static inline vf loadPrefix(const float* p, int n) {
  if (n == VL) return load(p);
#if GEMM_VL == 16
  return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#elif GEMM_VL == 8
  return (vf)_mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
#else
  vf v = vf{};
  for (int j = 0; j < n; ++j) v[j] = p[j];
  return v;
#endif
}
static inline void storePrefix(float* p, vf v, int n) {
  if (n == VL) return store(p, v);
#if GEMM_VL == 16
  _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#elif GEMM_VL == 8
  _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), (__m256)v);
#else
  for (int j = 0; j < n; ++j) p[j] = v[j];
#endif
}

using hpo::Epilogue;

// The epilogue (gemm.h) on a final value v, of either a vector or one float (T), with
// `operand()` giving the epilogue operand at its place (read only by the epilogues that
// take one). One definition for both, so a vector lane and a scalar tail give the same bits.
template <class T, class Operand>
static inline T epilogue(T v, Epilogue ep, Operand operand) {
  const T zero = T{};
  switch (ep) {
    case Epilogue::None:
      return v;
    case Epilogue::SubFrom:
      return operand() - v;
    case Epilogue::Relu:
      return v > zero ? v : zero;
    case Epilogue::ReluMask:
      return (v > zero ? v : zero) * operand();
    case Epilogue::ReluGrad:
      return v * (operand() > zero ? zero + 1.f : zero);
  }
  return v;
}
// n (0 < n <= VL) final values v, e the operand at their place: the lanes past n are never
// stored, and nothing past e + n is read.
static inline vf finish(vf v, Epilogue ep, const float* e, int n) {
  return epilogue(v, ep, [=] { return loadPrefix(e, n); });
}
static inline float finish1(float v, Epilogue ep, const float* e) {
  return epilogue(v, ep, [=] { return *e; });
}

// Packs rows [i0, i0+mc) x cols [k0, k0+kc) of op(A) into R-row slivers: for each
// sliver, kc groups of R values (one per row), rows past mc padded with zeros.
template <int R>
static void packA(const float* A, bool transA, int M, int K, int i0, int mc, int k0, int kc, float* out) {
  for (int s = 0; s < mc; s += R) {
    const int rows = mc - s < R ? mc - s : R;
    if (transA) {
      // op(A) rows are columns of A: for each k, R consecutive floats.
      for (int k = 0; k < kc; ++k) {
        const float* src = A + (size_t)(k0 + k) * M + i0 + s;
        for (int r = 0; r < rows; ++r) out[k * R + r] = src[r];
        for (int r = rows; r < R; ++r) out[k * R + r] = 0.f;
      }
    } else {
      // Row by row (contiguous reads; the sliver is small enough to stay in L1).
      for (int r = 0; r < rows; ++r) {
        const float* src = A + (size_t)(i0 + s + r) * K + k0;
        for (int k = 0; k < kc; ++k) out[k * R + r] = src[k];
      }
      for (int r = rows; r < R; ++r)
        for (int k = 0; k < kc; ++k) out[k * R + r] = 0.f;
    }
    out += (size_t)kc * R;
  }
}

// Packs rows [k0, k0+kc) x cols [j0, j0+nc) of op(B) into C-column slivers.
template <int C>
static void packB(const float* B, bool transB, int K, int N, int k0, int kc, int j0, int nc, float* out) {
  for (int s = 0; s < nc; s += C) {
    const int cols = nc - s < C ? nc - s : C;
    for (int k = 0; k < kc; ++k) {
      float* o = out + (size_t)k * C;
      const int kk = k0 + k;
      if (!transB && cols == C) {
        __builtin_memcpy(o, B + (size_t)kk * N + j0 + s, C * sizeof(float));
        continue;
      }
      if (!transB) {
        for (int c = 0; c < cols; ++c) o[c] = B[(size_t)kk * N + j0 + s + c];
        for (int c = cols; c < C; ++c) o[c] = 0.f;
      }
    }
    if (transB) {
      // op(B) columns are rows of B: column by column, contiguous reads.
      for (int c = 0; c < cols; ++c) {
        const float* src = B + (size_t)(j0 + s + c) * K + k0;
        for (int k = 0; k < kc; ++k) out[(size_t)k * C + c] = src[k];
      }
      for (int c = cols; c < C; ++c)
        for (int k = 0; k < kc; ++k) out[(size_t)k * C + c] = 0.f;
    }
    out += (size_t)kc * C;
  }
}

// An R x (NV vectors) tile: acc[r][v] = sum over k of a[k][r] * b[k][v], one accumulator
// per element of C, k in order, then C = acc (first K block) or C += acc (later blocks),
// through the epilogue `ep` (None but on the last K block; E: the operand at C's place).
// Every tile shape adds the same terms in the same order, so an element's bits do not
// depend on the tile it falls in.
// `a` advances by `sa` floats per k: R for a packed sliver, M for a transposed A read in
// place; `b` by `sb`: W for a packed panel, N for a plain B read in place.
template <int R, int NV>
static inline void micro(int kc, const float* __restrict a, int sa, const float* __restrict b, int sb, float* C, int ldc, int rows, int cols,
                         bool accumulate, Epilogue ep, const float* E) {
  constexpr int W = NV * VL;
  vf acc[R][NV];
#pragma GCC unroll 32
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = vf{};
  for (int k = 0; k < kc; ++k) {
    vf bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = load(b + v * VL);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] += a[r] * bv[v];
    }
    a += sa;
    b += sb;
  }
  if (rows == R && cols == W) {
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      float* c = C + (size_t)r * ldc;
      const float* e = E + (size_t)r * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) store(c + v * VL, finish(accumulate ? load(c + v * VL) + acc[r][v] : acc[r][v], ep, e + v * VL, VL));
    }
    return;
  }
  if (rows == R) {
    // Whole rows, the last vector partial (10 classes in 16 lanes, say): masked moves.
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      float* c = C + (size_t)r * ldc;
      const float* e = E + (size_t)r * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        if (v * VL >= cols) break;
        const int n = cols - v * VL < VL ? cols - v * VL : VL;
        storePrefix(c + v * VL, finish(accumulate ? loadPrefix(c + v * VL, n) + acc[r][v] : acc[r][v], ep, e + v * VL, n), n);
      }
    }
    return;
  }
  float tile[R][W];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) store(tile[r] + v * VL, acc[r][v]);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      float* p = C + (size_t)r * ldc + c;
      *p = finish1(accumulate ? *p + tile[r][c] : tile[r][c], ep, E + (size_t)r * ldc + c);
    }
}

// Scratch: packed panels, one set per thread.
struct Scratch {
  float* a = nullptr;
  float* b = nullptr;
  ~Scratch() {
    std::free(a);
    std::free(b);
  }
};

// The blocked product with R-row, NV-vector tiles.
template <int R, int NV>
static void blocked(int M, int N, int K, const float* A, bool transA, const float* B, bool transB, float* C, Epilogue ep, const float* E,
                    Scratch& scratch) {
  constexpr int W = NV * VL;
  constexpr int MCr = R * (MC / R);
  for (int j0 = 0; j0 < N; j0 += NC) {
    const int nc = N - j0 < NC ? N - j0 : NC;
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = K - k0 < KC ? K - k0 : KC;
      const Epilogue last = k0 + kc == K ? ep : Epilogue::None;
      // With at most two row tiles, each B panel is used once or twice, so packing it would
      // cost about what it saves: the whole tiles of a plain B are then read in place (row
      // stride N; the 256 x 785 input of a weight gradient d^T x, say), the rest packed.
      const int inPlace = transB || M > 2 * R ? 0 : nc - nc % W;
      if (inPlace < nc) packB<W>(B, transB, K, N, k0, kc, j0 + inPlace, nc - inPlace, scratch.b);
      for (int i0 = 0; i0 < M; i0 += MCr) {
        const int mc = M - i0 < MCr ? M - i0 : MCr;
        // A transposed A holds each sliver's R values of a k side by side (row stride M), as
        // packing would lay them out; with one column tile each sliver is used once, so the
        // whole slivers are read in place (the 785 x B pixels of a softmax weight gradient
        // x^T d, say) and only a partial last one is packed.
        const int aInPlace = transA && nc <= W ? mc - mc % R : 0;
        if (aInPlace < mc) packA<R>(A, transA, M, K, i0 + aInPlace, mc - aInPlace, k0, kc, scratch.a);
        for (int jr = 0; jr < nc; jr += W) {
          const bool direct = jr < inPlace;
          const float* bp = direct ? B + (size_t)k0 * N + j0 + jr : scratch.b + (size_t)((jr - inPlace) / W) * kc * W;
          const int sb = direct ? N : W;
          for (int ir = 0; ir < mc; ir += R) {
            const bool aDirect = ir < aInPlace;
            const float* ap = aDirect ? A + (size_t)k0 * M + i0 + ir : scratch.a + (size_t)((ir - aInPlace) / R) * kc * R;
            const size_t at = (size_t)(i0 + ir) * N + j0 + jr;
            micro<R, NV>(kc, ap, aDirect ? M : R, bp, sb, C + at, N, mc - ir < R ? mc - ir : R, nc - jr < W ? nc - jr : W, k0 > 0, last, E + at);
          }
        }
      }
    }
  }
}

// Narrow products with a plain A (N up to NV vectors: im2col columns times a few filters,
// activations times 10 classes): A is read in place, R rows at a time, and only op(B) is
// packed, NV vectors per k. Packing A would copy the biggest operand for a few FMAs per
// element. Same sums in the same order as `blocked` (k in order within KC blocks; C = the
// first block's sum, then C += each later block's), so the bits are the same as there.
// A plain B (rows of N floats) is read in place too, masked loads per k (lanes past N
// zero, as packing would have made them; nothing past the row is read).
template <int R, int NV>
static void narrowDirect(int M, int N, int K, const float* A, const float* B, bool transB, float* C, Epilogue ep, const float* E, Scratch& scratch) {
  constexpr int W = NV * VL;
  float* bp = scratch.b;
  // Lanes of vector v that hold columns: VL, then what is left of N (at least 1).
  int width[NV];
  for (int v = 0; v < NV; ++v) width[v] = N - v * VL < VL ? N - v * VL : VL;
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = K - k0 < KC ? K - k0 : KC;
    const Epilogue last = k0 + kc == K ? ep : Epilogue::None;
    const bool inPlace = !transB;
    if (!inPlace) packB<W>(B, transB, K, N, k0, kc, 0, N, bp);
    for (int i0 = 0; i0 < M; i0 += R) {
      const int rows = M - i0 < R ? M - i0 : R;
      const float* arow[R];
      for (int r = 0; r < R; ++r) arow[r] = A + (size_t)(i0 + (r < rows ? r : rows - 1)) * K + k0;
      vf acc[R][NV];
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) acc[r][v] = vf{};
      for (int k = 0; k < kc; ++k) {
        vf bv[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) bv[v] = inPlace ? loadPrefix(B + (size_t)(k0 + k) * N + v * VL, width[v]) : load(bp + (size_t)k * W + v * VL);
#pragma GCC unroll 32
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
          for (int v = 0; v < NV; ++v) acc[r][v] += arow[r][k] * bv[v];
      }
      // Unrolled, so that acc[r] names a register (a loop over the runtime `rows` would keep
      // the accumulators in memory through the k loop).
#pragma GCC unroll 32
      for (int r = 0; r < R; ++r) {
        if (r >= rows) break;
#pragma GCC unroll 2
        for (int v = 0; v < NV; ++v) {
          const size_t at = (size_t)(i0 + r) * N + v * VL;
          storePrefix(C + at, finish(k0 > 0 ? loadPrefix(C + at, width[v]) + acc[r][v] : acc[r][v], last, E + at, width[v]), width[v]);
        }
      }
    }
  }
}

// out[i] = bytes[i] / 255 as float: the correctly rounded quotient, equal for every byte
// value to (float)(b / 255.0), the value JavaScript's b / 255 stores into a Float32Array
// (test/native/gemm-checks.ts checks all 256 on every body). With FMA: q = b * (1/255),
// then one Newton step on the exact residual b - 255 q (exact for every byte: 126 of the
// 256 plain products are off by one unit); without, a division.
void unitFloats(const unsigned char* bytes, int n, float* out) {
  int i = 0;
#if GEMM_VL == 16
  const __m512 r = _mm512_set1_ps(1.f / 255.f), c = _mm512_set1_ps(255.f);
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i))));
    const __m512 q = _mm512_mul_ps(x, r);
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(_mm512_fnmadd_ps(q, c, x), r, q));
  }
#elif GEMM_VL == 8
  const __m256 r = _mm256_set1_ps(1.f / 255.f), c = _mm256_set1_ps(255.f);
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + i))));
    const __m256 q = _mm256_mul_ps(x, r);
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(_mm256_fnmadd_ps(q, c, x), r, q));
  }
#endif
  for (; i < n; ++i) out[i] = static_cast<float>(bytes[i]) / 255.f;
}

void sgemm(int M, int N, int K, const float* A, bool transA, const float* B, bool transB, float* C, Epilogue ep, const float* E) {
  // Epilogues without an operand never read E: C stands in, so that E + offset stays valid.
  if (!E) E = C;
  static thread_local Scratch scratch;
  if (!scratch.a) {
    scratch.a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    scratch.b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
  }
  if (K == 0) {
    for (size_t i = 0; i < (size_t)M * N; ++i) C[i] = finish1(0.f, ep, E + i);
    return;
  }
  // Narrow products (N up to one vector: 10 classes, a few filters) take one-vector tiles
  // with twice the rows; wider ones two-vector tiles. With 8-float vectors, products up to
  // two vectors wide (10 classes) read a plain A in place too.
  if (N <= VL && !transA)
    narrowDirect<2 * MR, 1>(M, N, K, A, B, transB, C, ep, E, scratch);
  else if (VL == 8 && N <= 2 * VL && !transA)
    narrowDirect<MR, 2>(M, N, K, A, B, transB, C, ep, E, scratch);
  else if (N <= VL)
    blocked<2 * MR, 1>(M, N, K, A, transA, B, transB, C, ep, E, scratch);
  else
    blocked<MR, 2>(M, N, K, A, transA, B, transB, C, ep, E, scratch);
}

}  // namespace GEMM_NS
