// tfjs-hpo's own TensorFlow kernels, registered into the libtensorflow that tfjs-node
// loaded, through TensorFlow's C op/kernel API. tfjs-node then runs them like any other op
// (TFE_Execute by name), so tensors never leave TensorFlow.
//
// Ops: HpoMatMulNN, HpoMatMulNT, HpoMatMulTN, HpoMatMulTT (N = as is, T = transposed, for
// a then b). Inputs are float32 of rank 2 ([M,K] x [K,N]) or rank 3 with a leading batch
// axis that may be 1 on one side (broadcast); the product has the inputs' rank. The
// arithmetic is gemm.cc's, whose result for one matrix does not depend on the batch it
// sits in.
//
// HpoXentGrad(logits [..., C] float, labels [...] int32) -> softmax(logits) - onehot(labels),
// row by row with the same scalar code for every row: the gradient of a row does not depend
// on where it sits in the tensor (libtensorflow's SparseSoftmaxCrossEntropyWithLogits runs
// vector exp on most elements and scalar exp on a tail, so a row's bits depend on its
// position, and a packed [K x B, C] batch would not match the trial's own [B, C]).
//
// HpoIm2col(input [C, N, H, W] float, geometry int32 [2] = (k, pad)) -> patches
// [k*k*C, N*OH*OW] (OH = H + 2 pad - k + 1, likewise OW), row (di*k + dj)*C + c, column
// (n*OH + oh)*OW + ow, value input[c][n][oh + di - pad][ow + dj - pad] or 0 outside: a
// stride-1 convolution is then one MatMul with the [k, k, C, out] filter as [k*k*C, out].
// HpoCol2im(patches, geometry int32 [6] = (k, pad, C, N, H, W)) -> [C, N, H, W] sums the
// patches back (the input gradient of that convolution, from filter^T-times-gradient).
//
// HpoAvgPool2(input float, geometry int32 [3] = (n, h, w)) -> [n, h/2, w/2]: 2x2, stride 2
// average pooling of n maps (h, w even); HpoAvgPool2Grad(dy [n, h/2, w/2], same geometry)
// -> [n, h, w], each input pixel getting a quarter of its window's gradient.
//
// HpoDropoutMask draws an inverted-dropout mask [rows, cols] (0 with probability p, else
// 1/(1-p)) from a stream registered with dropoutStream: the very generator and values of
// FastRng.fillMask in src/random.ts, so a mask drawn here equals one drawn in JavaScript.
//
// HpoGatherFlat1 and HpoGatherImage read training images kept as bytes (one uint8 copy per
// process, in shared memory, registered with registerPixels): inputs `source` (int32 scalar,
// the registration id) and `indices` (int32, any shape); output float32 pixels / 255 of
// those rows, shaped [indices..., 785] with a trailing 1 (flat1) or [indices..., 28, 28, 1].
//
// The N-API side registers the ops once per process (any thread may load the addon first)
// and exposes `isa`, `registered` and `sgemm` (for tests, on Float32Arrays).
#include <node_api.h>

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <cstdio>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "gemm.h"
#include "tensorflow/c/c_api.h"

// TensorFlow's C op and kernel API (tensorflow/c/ops.h and kernels.h). The headers are not
// part of every libtensorflow package (1.15's tarball lacks them), so the few functions
// used here are declared as the library exports them.
extern "C" {
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
typedef struct TF_KernelBuilder TF_KernelBuilder;
typedef struct TF_OpKernelConstruction TF_OpKernelConstruction;
typedef struct TF_OpKernelContext TF_OpKernelContext;

TF_OpDefinitionBuilder* TF_NewOpDefinitionBuilder(const char* op_name);
void TF_OpDefinitionBuilderAddInput(TF_OpDefinitionBuilder* builder, const char* input_spec);
void TF_OpDefinitionBuilderAddOutput(TF_OpDefinitionBuilder* builder, const char* output_spec);
void TF_OpDefinitionBuilderSetShapeInferenceFunction(TF_OpDefinitionBuilder* builder,
                                                     void (*fn)(TF_ShapeInferenceContext*, TF_Status*));
void TF_RegisterOpDefinition(TF_OpDefinitionBuilder* builder, TF_Status* status);
void TF_ShapeInferenceContextSetUnknownShape(TF_ShapeInferenceContext* ctx, TF_Status* status);

TF_KernelBuilder* TF_NewKernelBuilder(const char* op_name, const char* device_name,
                                      void* (*create_func)(TF_OpKernelConstruction*),
                                      void (*compute_func)(void*, TF_OpKernelContext*),
                                      void (*delete_func)(void*));
void TF_RegisterKernelBuilder(const char* kernel_name, TF_KernelBuilder* builder, TF_Status* status);
void TF_GetInput(TF_OpKernelContext* ctx, int i, TF_Tensor** tensor, TF_Status* status);
TF_Tensor* TF_AllocateOutput(TF_OpKernelContext* context, int index, TF_DataType dtype, int64_t* dims,
                             int num_dims, size_t len, TF_Status* status);
void TF_SetOutput(TF_OpKernelContext* ctx, int i, const TF_Tensor* tensor, TF_Status* status);
void TF_OpKernelContext_Failure(TF_OpKernelContext* ctx, TF_Status* status);
}

namespace {

struct Status {
  TF_Status* s = TF_NewStatus();
  ~Status() { TF_DeleteStatus(s); }
  bool ok() const { return TF_GetCode(s) == TF_OK; }
};

struct Input {
  TF_Tensor* t = nullptr;
  ~Input() {
    if (t) TF_DeleteTensor(t);
  }
};

void fail(TF_OpKernelContext* ctx, const std::string& msg) {
  Status st;
  TF_SetStatus(st.s, TF_INVALID_ARGUMENT, msg.c_str());
  TF_OpKernelContext_Failure(ctx, st.s);
}

// Output buffers of our kernels, kept for reuse when TensorFlow frees them. A step
// allocates the same few sizes as the step before (a packed batch of [8, 16, 785] floats,
// the pack's new weights, ...), and fresh memory is dear on the VMs we measure on (a page
// fault costs about 14 us, 3.5 ms for one 1 MB block): handing the same buffers back keeps
// them mapped and in cache. Whatever malloc does with TensorFlow's own allocations, ours
// never come back as new pages. Bounded: buffers above 4 MiB are not kept, nor more than
// 16 MiB in all (a step's sizes take a few MB; 48 MiB kept the MLP study's peak 80 MB
// higher), the sizes used longest ago making room for the others.
class BufferPool {
 public:
  void* take(size_t bytes) {
    const size_t size = rounded(bytes);
    {
      std::lock_guard<std::mutex> lock(m_);
      Bucket& b = free_[size];
      b.used = ++clock_;
      if (!b.buffers.empty()) {
        void* p = b.buffers.back();
        b.buffers.pop_back();
        kept_ -= size;
        return p;
      }
    }
    return std::aligned_alloc(kAlign, size);
  }
  void give(void* p, size_t bytes) {
    const size_t size = rounded(bytes);
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(m_);
      if (size > kMaxBuffer) {
        evicted.push_back(p);
      } else {
        // Room is made by dropping the buffers of the sizes used longest ago: a study moves
        // on to other shapes (another model, batch size or pack), and stale sizes must not
        // keep the current ones out.
        while (kept_ + size > kMaxKept) {
          auto oldest = free_.end();
          for (auto it = free_.begin(); it != free_.end(); ++it)
            if (it->first != size && !it->second.buffers.empty() && (oldest == free_.end() || it->second.used < oldest->second.used)) oldest = it;
          if (oldest == free_.end()) break;
          for (void* q : oldest->second.buffers) evicted.push_back(q);
          kept_ -= oldest->first * oldest->second.buffers.size();
          oldest->second.buffers.clear();
        }
        if (kept_ + size <= kMaxKept) {
          free_[size].buffers.push_back(p);
          kept_ += size;
        } else {
          evicted.push_back(p);
        }
      }
    }
    for (void* q : evicted) std::free(q);
  }

 private:
  struct Bucket {
    std::vector<void*> buffers;
    uint64_t used = 0;  // clock_ at the last take of this size
  };
  static constexpr size_t kAlign = 64;  // TensorFlow copies a buffer that is less aligned
  static constexpr size_t kMaxBuffer = size_t{4} << 20;
  static constexpr size_t kMaxKept = size_t{16} << 20;
  static size_t rounded(size_t bytes) { return bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign; }
  std::mutex m_;
  std::unordered_map<size_t, Bucket> free_;
  size_t kept_ = 0;
  uint64_t clock_ = 0;
};
BufferPool* pool = new BufferPool;  // never destroyed: TensorFlow may free tensors at exit

void returnBuffer(void* data, size_t len, void*) { pool->give(data, len); }

// One kernel call: its two inputs, fetched together, and its one float32 output, set and
// released together; a failure is reported to TensorFlow once, where it happens.
struct Call {
  TF_OpKernelContext* ctx;
  Status st;
  Input in[7];
  TF_Tensor* out = nullptr;
  explicit Call(TF_OpKernelContext* c) : ctx(c) {}
  ~Call() {
    if (out) TF_DeleteTensor(out);
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  // The first n inputs (at most 7), or false (reported).
  bool fetch(int n = 2) {
    for (int i = 0; i < n && st.ok(); ++i) TF_GetInput(ctx, i, &in[i].t, st.s);
    if (!st.ok()) TF_OpKernelContext_Failure(ctx, st.s);
    return st.ok();
  }
  // The output tensor of these dims, or nullptr (reported).
  TF_Tensor* output(const int64_t* dims, int rank) {
    size_t n = 1;
    for (int i = 0; i < rank; ++i) n *= static_cast<size_t>(dims[i]);
    const size_t bytes = sizeof(float) * n;
    void* data = pool->take(bytes);
    out = data ? TF_NewTensor(TF_FLOAT, dims, rank, data, bytes, returnBuffer, nullptr) : nullptr;
    if (!out) fail(ctx, "tfjs-hpo kernel: output allocation failed");
    return out;
  }
  // Hands the output to TensorFlow.
  void emit() {
    TF_SetOutput(ctx, 0, out, st.s);
    if (!st.ok()) TF_OpKernelContext_Failure(ctx, st.s);
  }
};

// One matrix operand: [batch, rows, cols] as stored (before the transpose flag).
struct Operand {
  int64_t batch, rows, cols;
};

bool shapeOf(TF_Tensor* t, Operand* o) {
  const int rank = TF_NumDims(t);
  if (TF_TensorType(t) != TF_FLOAT || rank < 2 || rank > 3) return false;
  o->batch = rank == 3 ? TF_Dim(t, 0) : 1;
  o->rows = TF_Dim(t, rank - 2);
  o->cols = TF_Dim(t, rank - 1);
  return true;
}

// HpoMatMul{NN,NT,TN,TT}: op(a) op(b) for each matrix of a batch (rank 3; a batch of 1 is
// broadcast). With an epilogue (gemm.h) that takes an operand, a third input e of the
// output's shape: HpoMatMul..Sub gives e - op(a) op(b) (an SGD update), HpoMatMulNNReluMask
// relu(a b) * e, HpoMatMulNTReluGrad (a b^T) * (e > 0); HpoMatMulNNRelu relu(a b).
template <bool TA, bool TB, hpo::Epilogue EP = hpo::Epilogue::None>
void matMulCompute(void*, TF_OpKernelContext* ctx) {
  constexpr bool withOperand = EP == hpo::Epilogue::SubFrom || EP == hpo::Epilogue::ReluMask || EP == hpo::Epilogue::ReluGrad;
  Call call(ctx);
  if (!call.fetch(withOperand ? 3 : 2)) return;
  Input& a = call.in[0];
  Input& b = call.in[1];
  Operand sa, sb;
  if (!shapeOf(a.t, &sa) || !shapeOf(b.t, &sb) || TF_NumDims(a.t) != TF_NumDims(b.t)) {
    fail(ctx, "HpoMatMul: inputs must be float32 of the same rank, 2 or 3");
    return;
  }
  const int64_t M = TA ? sa.cols : sa.rows, K = TA ? sa.rows : sa.cols;
  const int64_t Kb = TB ? sb.cols : sb.rows, N = TB ? sb.rows : sb.cols;
  if (K != Kb) {
    fail(ctx, "HpoMatMul: inner dimensions differ (" + std::to_string(K) + " vs " + std::to_string(Kb) + ")");
    return;
  }
  if (sa.batch != sb.batch && sa.batch != 1 && sb.batch != 1) {
    fail(ctx, "HpoMatMul: batch sizes differ and neither is 1");
    return;
  }
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) {
    fail(ctx, "HpoMatMul: dimension too large");
    return;
  }
  const int64_t batch = sa.batch > sb.batch ? sa.batch : sb.batch;
  const int rank = TF_NumDims(a.t);
  int64_t dims[3] = {batch, M, N};
  int64_t* outDims = rank == 3 ? dims : dims + 1;
  const float* pe = nullptr;
  if (withOperand) {
    TF_Tensor* e = call.in[2].t;
    bool same = TF_TensorType(e) == TF_FLOAT && TF_NumDims(e) == rank;
    for (int i = 0; same && i < rank; ++i) same = TF_Dim(e, i) == outDims[i];
    if (!same) {
      fail(ctx, "HpoMatMul: the epilogue operand must be float32 of the product's shape");
      return;
    }
    pe = static_cast<const float*>(TF_TensorData(e));
  }
  TF_Tensor* out = call.output(outDims, rank);
  if (!out) return;
  const float* pa = static_cast<const float*>(TF_TensorData(a.t));
  const float* pb = static_cast<const float*>(TF_TensorData(b.t));
  float* pc = static_cast<float*>(TF_TensorData(out));
  const int64_t strideA = sa.batch == 1 ? 0 : M * K, strideB = sb.batch == 1 ? 0 : K * N;
  for (int64_t i = 0; i < batch; ++i)
    hpo::sgemm(int(M), int(N), int(K), pa + i * strideA, TA, pb + i * strideB, TB, pc + i * M * N, EP, pe ? pe + i * M * N : nullptr);
  call.emit();
}

// The kernels keep no state; TensorFlow still wants an object per kernel instance.
int kernelToken = 0;
void* createKernel(TF_OpKernelConstruction*) { return &kernelToken; }
void deleteKernel(void*) {}

// ------------------------------------------------------------------ pixel gather

constexpr int kPixels = 784;

struct PixelSource {
  const uint8_t* data;
  int64_t rows;
};
std::mutex sourcesMutex;
std::vector<PixelSource> sources;  // id = index; entries are never removed

// One image as floats (and the constant 1 of the flat1 layout).
// (b / 255 as float, vectorised: hpo::unitFloats; for every byte the value JavaScript's
// b / 255 stores into a Float32Array, which the float layouts hold.)
template <bool Flat1>
inline void pixelRow(const uint8_t* p, float* o) {
  hpo::unitFloats(p, kPixels, o);
  if (Flat1) o[kPixels] = 1.f;
}

// Asks for the cache lines of one image (a hint; no effect on results).
inline void prefetchRow(const uint8_t* p) {
  for (int c = 0; c < kPixels; c += 64) __builtin_prefetch(p + c);
}

// The registered source `id`, or false (reported).
bool pixelSource(TF_OpKernelContext* ctx, TF_Tensor* src, PixelSource* ps) {
  if (TF_TensorType(src) != TF_INT32 || TF_NumDims(src) != 0) {
    fail(ctx, "HpoGather: source must be an int32 scalar");
    return false;
  }
  const int32_t id = *static_cast<const int32_t*>(TF_TensorData(src));
  std::lock_guard<std::mutex> lock(sourcesMutex);
  if (id < 0 || static_cast<size_t>(id) >= sources.size()) {
    fail(ctx, "HpoGather: unknown pixel source " + std::to_string(id));
    return false;
  }
  *ps = sources[id];
  return true;
}

// Whether every index is a row of `ps` (reported when not).
bool rowsInside(TF_OpKernelContext* ctx, const int32_t* rows, int64_t n, const PixelSource& ps) {
  for (int64_t i = 0; i < n; ++i) {
    if (rows[i] < 0 || rows[i] >= ps.rows) {
      fail(ctx, "HpoGather: row " + std::to_string(rows[i]) + " is outside [0, " + std::to_string(ps.rows) + ")");
      return false;
    }
  }
  return true;
}

template <bool Flat1>
void gatherCompute(void*, TF_OpKernelContext* ctx) {
  Call call(ctx);
  if (!call.fetch()) return;
  Input& src = call.in[0];
  Input& idx = call.in[1];
  PixelSource ps;
  if (TF_TensorType(idx.t) != TF_INT32) {
    fail(ctx, "HpoGather: indices must be int32");
    return;
  }
  if (!pixelSource(ctx, src.t, &ps)) return;
  const int rank = TF_NumDims(idx.t);
  int64_t n = 1;
  std::vector<int64_t> dims;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(TF_Dim(idx.t, i));
    n *= dims.back();
  }
  if (Flat1) {
    dims.push_back(kPixels + 1);
  } else {
    dims.insert(dims.end(), {28, 28, 1});
  }
  const int width = Flat1 ? kPixels + 1 : kPixels;
  const int32_t* rows = static_cast<const int32_t*>(TF_TensorData(idx.t));
  if (!rowsInside(ctx, rows, n, ps)) return;
  TF_Tensor* out = call.output(dims.data(), static_cast<int>(dims.size()));
  if (!out) return;
  float* o = static_cast<float*>(TF_TensorData(out));
  for (int64_t i = 0; i < n; ++i, o += width) {
    if (i + 1 < n) prefetchRow(ps.data + static_cast<int64_t>(rows[i + 1]) * kPixels);
    pixelRow<Flat1>(ps.data + static_cast<int64_t>(rows[i]) * kPixels, o);
  }
  call.emit();
}

// ------------------------------------------------------------------ cross-entropy gradient

// softmax(z) - onehot(y) of one row, with the same scalar code wherever the row sits.
inline void xentRow(const float* z, int64_t C, int32_t y, float* g) {
  float m = z[0];
  for (int64_t j = 1; j < C; ++j) m = z[j] > m ? z[j] : m;
  float sum = 0.f;
  for (int64_t j = 0; j < C; ++j) sum += (g[j] = std::exp(z[j] - m));
  for (int64_t j = 0; j < C; ++j) g[j] /= sum;
  g[y] -= 1.f;
}

void xentCompute(void*, TF_OpKernelContext* ctx) {
  Call call(ctx);
  if (!call.fetch()) return;
  Input& logits = call.in[0];
  Input& labels = call.in[1];
  const int rank = TF_NumDims(logits.t);
  if (TF_TensorType(logits.t) != TF_FLOAT || rank < 1 || TF_TensorType(labels.t) != TF_INT32) {
    fail(ctx, "HpoXentGrad: logits must be float32 [..., classes] and labels int32");
    return;
  }
  const int64_t C = TF_Dim(logits.t, rank - 1);
  const int64_t n = C == 0 ? 0 : static_cast<int64_t>(TF_TensorElementCount(logits.t)) / C;
  if (static_cast<int64_t>(TF_TensorElementCount(labels.t)) != n || C < 1) {
    fail(ctx, "HpoXentGrad: one label per row of logits");
    return;
  }
  std::vector<int64_t> dims(rank);
  for (int i = 0; i < rank; ++i) dims[i] = TF_Dim(logits.t, i);
  const float* z = static_cast<const float*>(TF_TensorData(logits.t));
  const int32_t* y = static_cast<const int32_t*>(TF_TensorData(labels.t));
  for (int64_t r = 0; r < n; ++r) {
    if (y[r] < 0 || y[r] >= C) {
      fail(ctx, "HpoXentGrad: label " + std::to_string(y[r]) + " is outside [0, " + std::to_string(C) + ")");
      return;
    }
  }
  TF_Tensor* out = call.output(dims.data(), rank);
  if (!out) return;
  float* g = static_cast<float*>(TF_TensorData(out));
  for (int64_t r = 0; r < n; ++r, z += C, g += C) xentRow(z, C, y[r], g);
  call.emit();
}

// ------------------------------------------------------------------ packed softmax SGD step
//
// v[j] *= s: elementwise IEEE multiplication (what TensorFlow's Mul gives), as a function so
// the compiler vectorises it.
__attribute__((noinline)) void scaleBy(float* __restrict v, int64_t n, float s) {
  for (int64_t j = 0; j < n; ++j) v[j] *= s;
}

// One minibatch for every slot k: out_k = W_k - x^T d with x the flat1 rows rows[k * stride ..
// + B) of the pixels and d = (softmax(x W_k) - onehot(y)) * scale[k], computed as the op
// sequence computes it (see HpoSoftmaxSgdEpoch). `out` and `W` must not overlap.
void softmaxSgdStep(const PixelSource& ps, const float* W, float* o, int64_t K, int64_t C, const int32_t* rows, const int32_t* y, int64_t stride,
                    int64_t B, const float* sc) {
  constexpr int64_t D = kPixels + 1;
  // Scratch reused by this thread's later steps (a step allocates nothing but its output).
  thread_local std::vector<float> x, z, g;
  x.resize(B * D);
  z.resize(B * C);
  g.resize(B * C);
  float* xs = x.data();
  float* gs = g.data();
  for (int64_t k = 0; k < K; ++k, W += D * C, o += D * C) {
    const int32_t* r = rows + k * stride;
    const int32_t* yk = y + k * stride;
    for (int64_t i = 0; i < B; ++i) {
      // The rows are random: ask for the next one's cache lines while converting this one.
      if (i + 1 < B) prefetchRow(ps.data + static_cast<int64_t>(r[i + 1]) * kPixels);
      pixelRow<true>(ps.data + static_cast<int64_t>(r[i]) * kPixels, xs + i * D);
    }
    hpo::sgemm(int(B), int(C), int(D), xs, false, W, false, z.data());
    for (int64_t i = 0; i < B; ++i) xentRow(&z[i * C], C, yk[i], gs + i * C);
    scaleBy(gs, B * C, sc[k]);
    hpo::sgemm(int(D), int(C), int(B), xs, true, gs, false, o, hpo::Epilogue::SubFrom, W);
  }
}

// The checks of HpoSoftmaxSgdEpoch's tensor inputs: weights [K, 785, C], indices and labels
// int32 [K, n] (rows of the registered source, labels in [0, C)), both scales float32 of K
// values. Fills K, C, n and the source, or reports and returns false.
bool softmaxSgdInputs(TF_OpKernelContext* ctx, Call& call, int64_t* K, int64_t* C, int64_t* n, PixelSource* ps) {
  constexpr const char* op = "HpoSoftmaxSgdEpoch";
  TF_Tensor* w = call.in[0].t;
  TF_Tensor* idx = call.in[2].t;
  TF_Tensor* lab = call.in[3].t;
  constexpr int64_t D = kPixels + 1;
  if (TF_TensorType(w) != TF_FLOAT || TF_NumDims(w) != 3 || TF_Dim(w, 1) != D || TF_Dim(w, 2) < 1 || TF_Dim(w, 2) > 4096) {
    fail(ctx, std::string(op) + ": weights must be float32 [K, 785, classes]");
    return false;
  }
  *K = TF_Dim(w, 0);
  *C = TF_Dim(w, 2);
  bool ok = TF_TensorType(idx) == TF_INT32 && TF_NumDims(idx) == 2 && TF_Dim(idx, 0) == *K && TF_TensorType(lab) == TF_INT32 &&
            static_cast<int64_t>(TF_TensorElementCount(lab)) == TF_TensorElementCount(idx);
  for (TF_Tensor* scale : {call.in[4].t, call.in[5].t})
    ok = ok && TF_TensorType(scale) == TF_FLOAT && static_cast<int64_t>(TF_TensorElementCount(scale)) == *K;
  if (!ok) {
    fail(ctx, std::string(op) + ": indices and labels must be int32 [K, n] and the scales float32 of K elements");
    return false;
  }
  *n = TF_Dim(idx, 1);
  if (*n < 1 || *n > INT32_MAX / D) {
    fail(ctx, std::string(op) + ": the epoch must hold at least one row");
    return false;
  }
  if (!pixelSource(ctx, call.in[1].t, ps)) return false;
  const int32_t* rows = static_cast<const int32_t*>(TF_TensorData(idx));
  const int32_t* y = static_cast<const int32_t*>(TF_TensorData(lab));
  if (!rowsInside(ctx, rows, *K * *n, *ps)) return false;
  for (int64_t r = 0; r < *K * *n; ++r) {
    if (y[r] < 0 || y[r] >= *C) {
      fail(ctx, std::string(op) + ": label " + std::to_string(y[r]) + " is outside [0, " + std::to_string(*C) + ")");
      return false;
    }
  }
  return true;
}

// HpoSoftmaxSgdEpoch(weights [K, 785, C] float, source int32 scalar, indices [K, n] int32,
// labels [K, n] int32, scale [K], tail scale [K], batch int32 scalar) -> the weights after
// a whole epoch of a pack: the minibatches of `batch` columns of indices/labels in order,
// the last one shorter when batch does not divide n (scaled by the tail scale, lr / its
// rows). Each minibatch, for every slot k, with x the flat1 rows of the registered pixels:
//   z = x W_k;  d = (softmax(z) - onehot(labels[k])) * scale[k];  W_k <- W_k - x^T d
// computed exactly as the op-by-op step computes it (HpoGatherFlat1, HpoMatMulNN,
// HpoXentGrad, Mul, HpoMatMulTNSub: the same row helpers, the same GEMM calls, the same
// order), so every slot gets the bits it gets from the separate ops, alone or in a pack of
// any size. One op per epoch instead of six per minibatch: no launch, upload or JavaScript
// between steps.
void softmaxSgdEpochCompute(void*, TF_OpKernelContext* ctx) {
  Call call(ctx);
  if (!call.fetch(7)) return;
  int64_t K, C, n;
  PixelSource ps;
  if (!softmaxSgdInputs(ctx, call, &K, &C, &n, &ps)) return;
  TF_Tensor* bt = call.in[6].t;
  if (TF_TensorType(bt) != TF_INT32 || TF_NumDims(bt) != 0 || *static_cast<const int32_t*>(TF_TensorData(bt)) < 1) {
    fail(ctx, "HpoSoftmaxSgdEpoch: batch must be a positive int32 scalar");
    return;
  }
  const int64_t B = *static_cast<const int32_t*>(TF_TensorData(bt));
  const int64_t size = K * (kPixels + 1) * C;
  const int64_t dims[3] = {K, kPixels + 1, C};
  TF_Tensor* out = call.output(dims, 3);
  if (!out) return;
  // Steps alternate between the output and a scratch copy, arranged so that the last one
  // writes the output (a step must not read the weights it writes).
  thread_local std::vector<float> scratch;
  scratch.resize(size);
  float* buffers[2] = {static_cast<float*>(TF_TensorData(out)), scratch.data()};
  const int64_t steps = (n + B - 1) / B;
  const int32_t* rows = static_cast<const int32_t*>(TF_TensorData(call.in[2].t));
  const int32_t* y = static_cast<const int32_t*>(TF_TensorData(call.in[3].t));
  const float* W = static_cast<const float*>(TF_TensorData(call.in[0].t));
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t start = s * B, rowsNow = n - start < B ? n - start : B;
    float* o = buffers[(steps - 1 - s) % 2];
    const float* sc = static_cast<const float*>(TF_TensorData(call.in[rowsNow == B ? 4 : 5].t));
    softmaxSgdStep(ps, W, o, K, C, rows + start, y + start, n, rowsNow, sc);
    W = o;
  }
  call.emit();
}

// ------------------------------------------------------------------ im2col / col2im

struct ConvGeometry {
  int64_t k, pad, C, N, H, W, OH, OW;
};

bool readGeometry(TF_Tensor* g, int64_t want, int64_t* out) {
  if (TF_TensorType(g) != TF_INT32 || TF_NumDims(g) != 1 || TF_Dim(g, 0) != want) return false;
  const int32_t* v = static_cast<const int32_t*>(TF_TensorData(g));
  for (int64_t i = 0; i < want; ++i) out[i] = v[i];
  return true;
}

void im2colCompute(void*, TF_OpKernelContext* ctx) {
  Call call(ctx);
  if (!call.fetch()) return;
  Input& in = call.in[0];
  Input& geo = call.in[1];
  int64_t kp[2];
  if (TF_TensorType(in.t) != TF_FLOAT || TF_NumDims(in.t) != 4 || !readGeometry(geo.t, 2, kp)) {
    fail(ctx, "HpoIm2col: input must be float32 [C, N, H, W] and geometry int32 [2] (k, pad)");
    return;
  }
  ConvGeometry g{kp[0], kp[1], TF_Dim(in.t, 0), TF_Dim(in.t, 1), TF_Dim(in.t, 2), TF_Dim(in.t, 3), 0, 0};
  g.OH = g.H + 2 * g.pad - g.k + 1;
  g.OW = g.W + 2 * g.pad - g.k + 1;
  if (g.k < 1 || g.pad < 0 || g.OH < 1 || g.OW < 1) {
    fail(ctx, "HpoIm2col: kernel larger than the padded input");
    return;
  }
  int64_t dims[2] = {g.k * g.k * g.C, g.N * g.OH * g.OW};
  TF_Tensor* out = call.output(dims, 2);
  if (!out) return;
  const float* x = static_cast<const float*>(TF_TensorData(in.t));
  float* o = static_cast<float*>(TF_TensorData(out));
  for (int64_t di = 0; di < g.k; ++di)
    for (int64_t dj = 0; dj < g.k; ++dj)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t n = 0; n < g.N; ++n) {
          const float* plane = x + (c * g.N + n) * g.H * g.W;
          for (int64_t oh = 0; oh < g.OH; ++oh, o += g.OW) {
            const int64_t h = oh + di - g.pad;
            if (h < 0 || h >= g.H) {
              std::memset(o, 0, sizeof(float) * g.OW);
              continue;
            }
            // Output columns whose input column ow + dj - pad is inside [0, W): [lo, hi).
            const int64_t lo = std::max<int64_t>(0, g.pad - dj), hi = std::min<int64_t>(g.OW, g.W + g.pad - dj);
            const float* row = plane + h * g.W + dj - g.pad;
            for (int64_t ow = 0; ow < lo; ++ow) o[ow] = 0.f;
            if (hi > lo) std::memcpy(o + lo, row + lo, sizeof(float) * (hi - lo));
            for (int64_t ow = hi > lo ? hi : lo; ow < g.OW; ++ow) o[ow] = 0.f;
          }
        }
  call.emit();
}

void col2imCompute(void*, TF_OpKernelContext* ctx) {
  Call call(ctx);
  if (!call.fetch()) return;
  Input& in = call.in[0];
  Input& geo = call.in[1];
  int64_t v[6];
  if (TF_TensorType(in.t) != TF_FLOAT || TF_NumDims(in.t) != 2 || !readGeometry(geo.t, 6, v)) {
    fail(ctx, "HpoCol2im: patches must be float32 [k*k*C, N*OH*OW] and geometry int32 [6] (k, pad, C, N, H, W)");
    return;
  }
  ConvGeometry g{v[0], v[1], v[2], v[3], v[4], v[5], 0, 0};
  g.OH = g.H + 2 * g.pad - g.k + 1;
  g.OW = g.W + 2 * g.pad - g.k + 1;
  if (g.k < 1 || g.pad < 0 || g.OH < 1 || g.OW < 1 || g.C < 1 || g.N < 0 || TF_Dim(in.t, 0) != g.k * g.k * g.C || TF_Dim(in.t, 1) != g.N * g.OH * g.OW) {
    fail(ctx, "HpoCol2im: patches do not match the geometry");
    return;
  }
  int64_t dims[4] = {g.C, g.N, g.H, g.W};
  const int64_t total = g.C * g.N * g.H * g.W;
  TF_Tensor* out = call.output(dims, 4);
  if (!out) return;
  float* y = static_cast<float*>(TF_TensorData(out));
  std::memset(y, 0, sizeof(float) * total);
  const float* p = static_cast<const float*>(TF_TensorData(in.t));
  for (int64_t di = 0; di < g.k; ++di)
    for (int64_t dj = 0; dj < g.k; ++dj)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t n = 0; n < g.N; ++n) {
          float* plane = y + (c * g.N + n) * g.H * g.W;
          for (int64_t oh = 0; oh < g.OH; ++oh, p += g.OW) {
            const int64_t h = oh + di - g.pad;
            if (h < 0 || h >= g.H) continue;
            const int64_t lo = std::max<int64_t>(0, g.pad - dj), hi = std::min<int64_t>(g.OW, g.W + g.pad - dj);
            float* row = plane + h * g.W + dj - g.pad;
            for (int64_t ow = lo; ow < hi; ++ow) row[ow] += p[ow];
          }
        }
  call.emit();
}

// ------------------------------------------------------------------ 2x2 average pooling

template <bool Grad>
void avgPoolCompute(void*, TF_OpKernelContext* ctx) {
  Call call(ctx);
  if (!call.fetch()) return;
  Input& in = call.in[0];
  Input& geo = call.in[1];
  int64_t g[3];
  if (TF_TensorType(in.t) != TF_FLOAT || !readGeometry(geo.t, 3, g) || g[0] < 0 || g[1] < 2 || g[2] < 2 || g[1] % 2 || g[2] % 2) {
    fail(ctx, "HpoAvgPool2: float32 input and geometry int32 [3] (n, h, w) with even h, w");
    return;
  }
  const int64_t n = g[0], h = g[1], w = g[2], h2 = h / 2, w2 = w / 2;
  if (static_cast<int64_t>(TF_TensorElementCount(in.t)) != (Grad ? n * h2 * w2 : n * h * w)) {
    fail(ctx, "HpoAvgPool2: input size does not match the geometry");
    return;
  }
  int64_t dims[3] = {n, Grad ? h : h2, Grad ? w : w2};
  TF_Tensor* out = call.output(dims, 3);
  if (!out) return;
  const float* x = static_cast<const float*>(TF_TensorData(in.t));
  float* y = static_cast<float*>(TF_TensorData(out));
  for (int64_t m = 0; m < n; ++m)
    for (int64_t i = 0; i < h2; ++i) {
      if (Grad) {
        const float* d = x + (m * h2 + i) * w2;
        float* r0 = y + (m * h + 2 * i) * w;
        float* r1 = r0 + w;
        for (int64_t j = 0; j < w2; ++j) r0[2 * j] = r0[2 * j + 1] = r1[2 * j] = r1[2 * j + 1] = 0.25f * d[j];
      } else {
        const float* r0 = x + (m * h + 2 * i) * w;
        const float* r1 = r0 + w;
        float* o = y + (m * h2 + i) * w2;
        for (int64_t j = 0; j < w2; ++j) o[j] = 0.25f * ((r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1]));
      }
    }
  call.emit();
}

// ------------------------------------------------------------------ dropout masks

struct DropoutStream {
  uint32_t a, b, c, d;
  uint64_t threshold;  // floor(p * 2^32): a draw below it drops the unit
  float keep;          // 1 / (1 - p), rounded to float as a Float32Array stores it
};
std::mutex streamsMutex;
std::deque<DropoutStream> streams;  // id = index; a stream is used by one thread at a time

void dropoutCompute(void*, TF_OpKernelContext* ctx) {
  Call call(ctx);
  if (!call.fetch()) return;
  Input& id = call.in[0];
  Input& shape = call.in[1];
  if (TF_TensorType(id.t) != TF_INT32 || TF_NumDims(id.t) != 0 || TF_TensorType(shape.t) != TF_INT32 || TF_NumDims(shape.t) != 1 || TF_Dim(shape.t, 0) != 2) {
    fail(ctx, "HpoDropoutMask: stream must be an int32 scalar and shape int32 [2]");
    return;
  }
  const int32_t sid = *static_cast<const int32_t*>(TF_TensorData(id.t));
  const int32_t* dims32 = static_cast<const int32_t*>(TF_TensorData(shape.t));
  if (dims32[0] < 0 || dims32[1] < 0) {
    fail(ctx, "HpoDropoutMask: negative shape");
    return;
  }
  DropoutStream* s;
  {
    std::lock_guard<std::mutex> lock(streamsMutex);
    if (sid < 0 || static_cast<size_t>(sid) >= streams.size()) {
      fail(ctx, "HpoDropoutMask: unknown stream " + std::to_string(sid));
      return;
    }
    s = &streams[sid];
  }
  int64_t dims[2] = {dims32[0], dims32[1]};
  const int64_t n = dims[0] * dims[1];
  TF_Tensor* out = call.output(dims, 2);
  if (!out) return;
  float* o = static_cast<float*>(TF_TensorData(out));
  uint32_t a = s->a, b = s->b, c = s->c, d = s->d;
  const uint64_t threshold = s->threshold;
  uint32_t keepBits;
  std::memcpy(&keepBits, &s->keep, sizeof keepBits);
  uint32_t* bits = reinterpret_cast<uint32_t*>(o);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t t = a + b + d;
    d += 1;
    a = b ^ (b >> 9);
    b = c + (c << 3);
    c = (c << 21) | (c >> 11);
    c += t;
    // keep or +0 without a branch (a draw below p * 2^32 is a coin flip the predictor
    // cannot learn): the bits of keep, or all zero.
    bits[i] = keepBits & (0u - static_cast<uint32_t>(t >= threshold));
  }
  s->a = a;
  s->b = b;
  s->c = c;
  s->d = d;
  call.emit();
}

void unknownShape(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  TF_ShapeInferenceContextSetUnknownShape(ctx, status);
}

std::string registerOp(const char* name, std::initializer_list<const char*> inputs, const char* out,
                       void (*compute)(void*, TF_OpKernelContext*)) {
  Status st;
  TF_OpDefinitionBuilder* op = TF_NewOpDefinitionBuilder(name);
  for (const char* in : inputs) TF_OpDefinitionBuilderAddInput(op, in);
  TF_OpDefinitionBuilderAddOutput(op, out);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(op, unknownShape);
  TF_RegisterOpDefinition(op, st.s);
  if (!st.ok()) return std::string(name) + ": " + TF_Message(st.s);
  TF_KernelBuilder* kb = TF_NewKernelBuilder(name, "CPU", createKernel, compute, deleteKernel);
  TF_RegisterKernelBuilder((std::string(name) + "_cpu").c_str(), kb, st.s);
  if (!st.ok()) return std::string(name) + " kernel: " + TF_Message(st.s);
  return "";
}

std::once_flag registerOnce;
std::string registerError;

void registerAll() {
  std::call_once(registerOnce, [] {
    using hpo::Epilogue;
    const std::pair<const char*, void (*)(void*, TF_OpKernelContext*)> ops[] = {
        {"HpoMatMulNN", matMulCompute<false, false>},
        {"HpoMatMulNT", matMulCompute<false, true>},
        {"HpoMatMulTN", matMulCompute<true, false>},
        {"HpoMatMulTT", matMulCompute<true, true>},
        {"HpoMatMulNNRelu", matMulCompute<false, false, Epilogue::Relu>},
    };
    for (const auto& [name, fn] : ops) {
      registerError = registerOp(name, {"a: float", "b: float"}, "product: float", fn);
      if (!registerError.empty()) return;
    }
    const std::pair<const char*, void (*)(void*, TF_OpKernelContext*)> withOperand[] = {
        {"HpoMatMulNNSub", matMulCompute<false, false, Epilogue::SubFrom>},
        {"HpoMatMulNTSub", matMulCompute<false, true, Epilogue::SubFrom>},
        {"HpoMatMulTNSub", matMulCompute<true, false, Epilogue::SubFrom>},
        {"HpoMatMulTTSub", matMulCompute<true, true, Epilogue::SubFrom>},
        {"HpoMatMulNNReluMask", matMulCompute<false, false, Epilogue::ReluMask>},
        {"HpoMatMulNTReluGrad", matMulCompute<false, true, Epilogue::ReluGrad>},
    };
    for (const auto& [name, fn] : withOperand) {
      registerError = registerOp(name, {"a: float", "b: float", "e: float"}, "product: float", fn);
      if (!registerError.empty()) return;
    }
    registerError = registerOp("HpoSoftmaxSgdEpoch",
                               {"weights: float", "source: int32", "indices: int32", "labels: int32", "scale: float", "tail_scale: float", "batch: int32"},
                               "updated: float", softmaxSgdEpochCompute);
    if (registerError.empty()) registerError = registerOp("HpoGatherFlat1", {"source: int32", "indices: int32"}, "pixels: float", gatherCompute<true>);
    if (registerError.empty())
      registerError = registerOp("HpoGatherImage", {"source: int32", "indices: int32"}, "pixels: float", gatherCompute<false>);
    if (registerError.empty())
      registerError = registerOp("HpoIm2col", {"input: float", "geometry: int32"}, "patches: float", im2colCompute);
    if (registerError.empty())
      registerError = registerOp("HpoCol2im", {"patches: float", "geometry: int32"}, "image: float", col2imCompute);
    if (registerError.empty())
      registerError = registerOp("HpoAvgPool2", {"input: float", "geometry: int32"}, "output: float", avgPoolCompute<false>);
    if (registerError.empty())
      registerError = registerOp("HpoAvgPool2Grad", {"dy: float", "geometry: int32"}, "dx: float", avgPoolCompute<true>);
    if (registerError.empty())
      registerError = registerOp("HpoXentGrad", {"logits: float", "labels: int32"}, "grad: float", xentCompute);
    if (registerError.empty())
      registerError = registerOp("HpoDropoutMask", {"stream: int32", "shape: int32"}, "mask: float", dropoutCompute);
  });
}

// ------------------------------------------------------------------ N-API

napi_value throwError(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

// A TypedArray argument: its element type, element count and data, or false when v is not one.
bool typedArray(napi_env env, napi_value v, napi_typedarray_type* type, size_t* length, void** data) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, type, length, data, &buffer, &offset) == napi_ok;
}

// The one argument of a call when it is a Uint8Array: its bytes and their count.
bool onlyUint8Array(napi_env env, napi_callback_info info, void** data, size_t* length) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_typedarray_type type;
  return argc == 1 && typedArray(env, argv[0], &type, length, data) && type == napi_uint8_array;
}

bool float32Array(napi_env env, napi_value v, float** data, size_t* length) {
  napi_typedarray_type type;
  void* raw;
  if (!typedArray(env, v, &type, length, &raw) || type != napi_float32_array) return false;
  *data = static_cast<float*>(raw);
  return true;
}

// prefault(bytes: a Uint8Array) -> whether the kernel mapped the whole pages inside it
// writable in one call (MADV_POPULATE_WRITE, Linux 5.14+), instead of one fault per page at
// first write. Only for fresh memory about to be written in full (the contents are kept
// either way). False where unsupported; nothing changes then.
napi_value Prefault(napi_env env, napi_callback_info info) {
  size_t length;
  void* raw;
  if (!onlyUint8Array(env, info, &raw, &length)) return throwError(env, "prefault: expected a Uint8Array");
  bool ok = false;
#if defined(__linux__)
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE, absent from older headers
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t from = (reinterpret_cast<uintptr_t>(raw) + page - 1) / page * page;
  const uintptr_t to = (reinterpret_cast<uintptr_t>(raw) + length) / page * page;
  ok = to > from && madvise(reinterpret_cast<void*>(from), to - from, kPopulateWrite) == 0;
#endif
  napi_value v;
  napi_get_boolean(env, ok, &v);
  return v;
}

// sgemm(M, N, K, a: Float32Array, transA: boolean, b: Float32Array, transB: boolean, c: Float32Array[, epilogue, e: Float32Array])
napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 8 && argc != 10) return throwError(env, "sgemm: expected 8 arguments, or 10 with an epilogue");
  int32_t dims[3];
  for (int i = 0; i < 3; ++i)
    if (napi_get_value_int32(env, argv[i], &dims[i]) != napi_ok || dims[i] < 0) return throwError(env, "sgemm: M, N, K must be non-negative integers");
  bool ta = false, tb = false;
  napi_get_value_bool(env, argv[4], &ta);
  napi_get_value_bool(env, argv[6], &tb);
  float *a, *b, *c, *e = nullptr;
  size_t la, lb, lc, le = 0;
  if (!float32Array(env, argv[3], &a, &la) || !float32Array(env, argv[5], &b, &lb) || !float32Array(env, argv[7], &c, &lc))
    return throwError(env, "sgemm: a, b and c must be Float32Arrays");
  const size_t M = dims[0], N = dims[1], K = dims[2];
  if (la < M * K || lb < K * N || lc < M * N) return throwError(env, "sgemm: an array is shorter than its matrix");
  hpo::Epilogue ep = hpo::Epilogue::None;
  if (argc == 10) {
    char name[16] = {0};
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[8], name, sizeof name, &len);
    const std::pair<const char*, hpo::Epilogue> kinds[] = {{"none", hpo::Epilogue::None},         {"subFrom", hpo::Epilogue::SubFrom},
                                                           {"relu", hpo::Epilogue::Relu},         {"reluMask", hpo::Epilogue::ReluMask},
                                                           {"reluGrad", hpo::Epilogue::ReluGrad}};
    bool known = false;
    for (const auto& [n, k] : kinds)
      if (std::strcmp(n, name) == 0) ep = k, known = true;
    if (!known) return throwError(env, "sgemm: epilogue must be none, subFrom, relu, reluMask or reluGrad");
    if (!float32Array(env, argv[9], &e, &le) || le < M * N) return throwError(env, "sgemm: the epilogue operand must be a Float32Array of M x N");
  }
  hpo::sgemm(dims[0], dims[1], dims[2], a, ta, b, tb, c, ep, e);
  return nullptr;
}

// unitFloats(bytes: Uint8Array, out: Float32Array): out[i] = bytes[i] / 255 with the body
// the gathers use (for tests).
napi_value UnitFloats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_typedarray_type type;
  size_t n = 0;
  void* raw = nullptr;
  if (argc != 2 || !typedArray(env, argv[0], &type, &n, &raw) || type != napi_uint8_array)
    return throwError(env, "unitFloats: expected (Uint8Array, Float32Array)");
  float* out;
  size_t m;
  if (!float32Array(env, argv[1], &out, &m) || m < n || n > INT32_MAX) return throwError(env, "unitFloats: out must be a Float32Array at least as long as bytes");
  hpo::unitFloats(static_cast<const unsigned char*>(raw), static_cast<int>(n), out);
  return nullptr;
}

// registerPixels(images: Uint8Array of rows x 784 bytes, in memory that outlives every use:
// a SharedArrayBuffer the process keeps) -> id for HpoGather*. The same memory and row
// count get the same id in every thread.
napi_value RegisterPixels(napi_env env, napi_callback_info info) {
  size_t length;
  void* raw;
  if (!onlyUint8Array(env, info, &raw, &length) || length % kPixels != 0 || length == 0)
    return throwError(env, "registerPixels: expected a Uint8Array of whole 784-byte images");
  const PixelSource ps{static_cast<const uint8_t*>(raw), static_cast<int64_t>(length / kPixels)};
  int32_t id = -1;
  {
    std::lock_guard<std::mutex> lock(sourcesMutex);
    for (size_t i = 0; i < sources.size(); ++i)
      if (sources[i].data == ps.data && sources[i].rows == ps.rows) id = static_cast<int32_t>(i);
    if (id < 0) {
      id = static_cast<int32_t>(sources.size());
      sources.push_back(ps);
    }
  }
  napi_value v;
  napi_create_int32(env, id, &v);
  return v;
}

// dropoutStream(id, [a, b, c, d], threshold, keep) -> id: sets stream `id` (or a new one
// when id is -1) to FastRng state a..d (uint32), drop threshold floor(p * 2^32) and keep
// value 1/(1-p).
napi_value SetDropoutStream(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 4) return throwError(env, "dropoutStream: expected (id, state, threshold, keep)");
  int32_t id;
  double threshold, keep;
  bool isArray = false;
  if (napi_get_value_int32(env, argv[0], &id) != napi_ok || napi_is_array(env, argv[1], &isArray) != napi_ok || !isArray ||
      napi_get_value_double(env, argv[2], &threshold) != napi_ok || napi_get_value_double(env, argv[3], &keep) != napi_ok)
    return throwError(env, "dropoutStream: expected (id: number, state: number[4], threshold: number, keep: number)");
  uint32_t w[4];
  for (uint32_t i = 0; i < 4; ++i) {
    napi_value e;
    int64_t v;
    if (napi_get_element(env, argv[1], i, &e) != napi_ok || napi_get_value_int64(env, e, &v) != napi_ok) return throwError(env, "dropoutStream: state must hold 4 integers");
    w[i] = static_cast<uint32_t>(v);
  }
  if (!(threshold >= 0 && threshold <= 4294967296.0)) return throwError(env, "dropoutStream: threshold must be in [0, 2^32]");
  const DropoutStream ds{w[0], w[1], w[2], w[3], static_cast<uint64_t>(threshold), static_cast<float>(keep)};
  {
    std::lock_guard<std::mutex> lock(streamsMutex);
    if (id < 0) {
      id = static_cast<int32_t>(streams.size());
      streams.push_back(ds);
    } else if (static_cast<size_t>(id) < streams.size()) {
      streams[id] = ds;
    } else {
      return throwError(env, "dropoutStream: unknown stream id");
    }
  }
  napi_value v;
  napi_create_int32(env, id, &v);
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  registerAll();
  napi_value v;
  napi_create_string_utf8(env, hpo::sgemmIsa(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "isa", v);
  napi_get_boolean(env, registerError.empty(), &v);
  napi_set_named_property(env, exports, "registered", v);
  napi_create_string_utf8(env, registerError.c_str(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "registerError", v);
  napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, Sgemm, nullptr, &v);
  napi_set_named_property(env, exports, "sgemm", v);
  napi_create_function(env, "dropoutStream", NAPI_AUTO_LENGTH, SetDropoutStream, nullptr, &v);
  napi_set_named_property(env, exports, "dropoutStream", v);
  napi_create_function(env, "registerPixels", NAPI_AUTO_LENGTH, RegisterPixels, nullptr, &v);
  napi_set_named_property(env, exports, "registerPixels", v);
  napi_create_function(env, "unitFloats", NAPI_AUTO_LENGTH, UnitFloats, nullptr, &v);
  napi_set_named_property(env, exports, "unitFloats", v);
  napi_create_function(env, "prefault", NAPI_AUTO_LENGTH, Prefault, nullptr, &v);
  napi_set_named_property(env, exports, "prefault", v);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return Init(env, exports); }
