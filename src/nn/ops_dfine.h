// File: src/nn/ops_dfine.h
// Purpose: the ops D-FINE needs beyond nn/ops.h, so that its whole forward pass (and its frame
// preprocessing and top-1 read-out) can stay on the GPU. Same conventions as nn/ops.h: each op
// checks its arguments (um::Error naming the op and the shapes), then runs on the input's device:
// the CPU reference (<op>_cpu.cpp, code moved out of src/models/dfine) or the CUDA kernel
// (<op>_cuda.cu, on um::cuda::current_stream(), no host sync, outputs from the current pool).
// Precision: ops marked "float32" take float32 tensors only (D-FINE's box chain and sampling
// coordinates stay float32 in every mode, SPEC 3); the others take float32 or float16 on CUDA
// (float32 arithmetic inside) and float32 on the CPU.
// Usage:
//   nn::act_affine_inplace(y, nn::ActKind::kReLU, /*affine=*/true, lab_scale, lab_bias);
//   Tensor out = nn::ms_deformable_sample(memory, ref, offsets, attn_logits, params);
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/ops_fused.h"

namespace um::nn {

// ---- Element-wise (act_affine_cpu.cpp) ----------------------------------------------------------
// The four activations of the fused ops (nn::Activation, ops_fused.h; GELU exact, erf): one enum
// for both op families.
using ActKind = Activation;
// In place on a contiguous tensor: x = act(x), then x = scale * x + bias when `affine`
// (HGNetv2's learnable affine "lab"). float32 arithmetic.
void act_affine_inplace(const Tensor& x, ActKind act, bool affine = false, float scale = 1.f,
                        float bias = 0.f);
// torch.clamp(x, lo, hi) -> new contiguous tensor of x's dtype.
Tensor clamp(const Tensor& x, float lo, float hi);
// Max over the last dimension: x [..., C] -> float32 [...] (D-FINE's query selection score).
Tensor amax_last(const Tensor& x);

// ---- Image plumbing (pad2d_cpu.cpp) -----------------------------------------------------------
// F.pad(x, (left, right, top, bottom), value=value) on [N, C, H, W]; pads >= 0. Output x's dtype.
Tensor pad2d(const Tensor& x, int64_t left, int64_t right, int64_t top, int64_t bottom,
             float value);
// uint8 tensor (any shape) -> float32 x / divisor (the frame's /255 as the CPU preprocess does).
Tensor u8_to_float(const Tensor& x, float divisor);

// ---- Multi-scale deformable attention sampling (ms_deformable_cpu.cpp) ------------------------
struct MsDeformParams {
  std::vector<std::pair<int64_t, int64_t>> level_shapes;  // (H, W) per level, memory order
  std::vector<int> points;                                // points per level
  std::vector<float> point_scale;  // 1/P per point, level after level (the checkpoint buffer)
  int heads = 1;
  static constexpr int kMaxLevels = 8, kMaxPoints = 64;  // per head, all levels together
};
// D-FINE's MSDeformableAttention core ('default' method), no value/output projection:
//   memory [B, L, E] (levels flattened level after level, token-major), ref [B, Q, 4] float32
//   (cx, cy, w, h), offsets [B, Q, heads*total*2] float32, attn_logits [B, Q, heads*total]
//   (memory's dtype) -> [B, Q, E] in memory's dtype.
// Per head: softmax over all points of all levels; location = ref_xy + offset * scale_p *
// ref_wh * 0.5 in float32; bilinear tap, zero padding, align_corners=False (the official
// grid_sample with grid = 2 * loc - 1); head h reads channels [h*E/heads, (h+1)*E/heads).
Tensor ms_deformable_sample(const Tensor& memory, const Tensor& ref, const Tensor& offsets,
                            const Tensor& attn_logits, const MsDeformParams& params);

// ---- Fine-grained distribution refinement, float32 (fdr_cpu.cpp) ------------------------------
constexpr int kMaxFdrBins = 128;
// corners [B, Q, 4*bins] -> [B, Q, 4]: softmax per edge over bins, dotted with `project` (W(n)).
Tensor distribution_integral(const Tensor& corners, const std::vector<float>& project);
// points [B, Q, 4] cxcywh, distance [B, Q, 4] (l, t, r, b) -> cxcywh boxes (D-FINE's
// distance2bbox: x1 = cx - (0.5*|rs| + l) * (w / |rs|), ...).
Tensor distance2bbox(const Tensor& points, const Tensor& distance, float reg_scale);
// distance2bbox(points, distribution_integral(corners, project), reg_scale) in one op
// (fdr_box_cpu.cpp): the decoder's per-layer box from its corner distributions. CPU: exactly those two ops; CUDA: one
// kernel (a warp per query: the 4 edges' softmax-weighted sums, then the box), not two.
Tensor distribution_box(const Tensor& corners, const std::vector<float>& project,
                        const Tensor& points, float reg_scale);
// LQE statistics: corners [B, Q, 4*bins] -> [B, Q, 4*(k+1)]: per edge the k largest softmax
// probabilities (descending) and their mean.
Tensor distribution_topk_stats(const Tensor& corners, int64_t bins, int k);

// ---- Detection read-out (detect_top1_cpu.cpp) ---------------------------------------------------
// How normalised cxcywh boxes become frame pixels (D-FINE's postprocess + top1).
struct BoxMapping {
  float norm_w = 1.f, norm_h = 1.f;  // normalised -> pixels: frame size (stretch) or input size
  bool letterbox = false;
  float pad_x = 0.f, pad_y = 0.f, scale = 1.f;  // letterbox: (x - pad) / scale
  float frame_w = 1.f, frame_h = 1.f;           // clamp limits
};
// logits [1, Q, C] float32, boxes [1, Q, 4] float32 -> float32 [6] = {score, label, x0, y0, x1,
// y1}: the largest sigmoid(logit) over queries x classes (ties: lower flat index), label =
// idx % C, its query's box cxcywh -> xyxy, mapped, non-finite -> 0, clamped to the frame.
Tensor detection_top1(const Tensor& logits, const Tensor& boxes, const BoxMapping& mapping);

// ---- Mixed-precision fusions of the decoder layer (dfine_mixed_cpu.cpp) -----------------------
// In float16 mode the decoder adds float16 activations to the float32 positional embedding and
// gates them in float32 (SPEC 3): formed in float32 and rounded once. These ops do each such
// chain (conversions, element-wise ops, the LayerNorm) as ONE kernel on CUDA. On the CPU (float32
// throughout) each is exactly the op sequence it replaces, so CPU results are bit-identical.
//
// a + b with a and b of the same shape (no broadcasting) and any float dtypes each; the sum in
// float32, rounded once to out_dtype (kF32 or kF16). Replaces b.to(F32) + add + .to(out).
// CPU: float32 inputs, = nn::add(a, b) (then .to(out_dtype)).
Tensor add_mixed(const Tensor& a, const Tensor& b, DType out_dtype);
// The same with b clamped to [b_lo, b_hi] first: a + clamp(b) (the decoder's query position
// embedding is clamp(query_pos_head(ref), -10, 10) and is used only in such sums, so the clamp
// kernel goes). CPU: = add_mixed(a, nn::clamp(b, b_lo, b_hi), out_dtype).
Tensor add_mixed(const Tensor& a, const Tensor& b, DType out_dtype, float b_lo, float b_hi);
// The same sum rounded to two dtypes at once, {out1, out2} (one kernel, one pass): the decoder's
// cross-attention query, float32 for the sampling offsets and the compute dtype for the
// attention weights. CPU: {add_mixed(a, b, out1), add_mixed(a, b, out2)}.
std::pair<Tensor, Tensor> add_mixed2(const Tensor& a, const Tensor& b, DType out1, DType out2);
// With b clamped first, as add_mixed's clamped form.
std::pair<Tensor, Tensor> add_mixed2(const Tensor& a, const Tensor& b, DType out1, DType out2,
                                     float b_lo, float b_hi);
// LayerNorm(a + b) over the last dim (weight, bias [C] or undefined, any float dtype): a and b of
// the same shape, any float dtypes each; the sum and the statistics in float32 (two-pass as
// nn::layer_norm), one rounding to out_dtype. The decoder's `norm1(target + attn)`. CPU: float32
// inputs, = nn::layer_norm(nn::add(a, b), ...) (then .to(out_dtype)). On CUDA the norm reads the
// unrounded float32 sum (the unfused float16 sequence rounded it to float16 first).
Tensor add_layer_norm(const Tensor& a, const Tensor& b, const Tensor& weight, const Tensor& bias,
                      float eps, DType out_dtype);
// D-FINE's Gate (the decoder's "gateway") without its LayerNorm: gate logits g [..., 2E], x1 and
// x2 [..., E] (same leading dims; any float dtypes each) ->
//   sigmoid(g[..., :E]) * x1 + sigmoid(g[..., E:]) * x2
// in float32, rounded once to out_dtype. CPU: float32 inputs, = the sequence sigmoid, split, mul,
// mul, add (then .to(out_dtype)).
Tensor gated_sum(const Tensor& g, const Tensor& x1, const Tensor& x2, DType out_dtype);
// The same followed by LayerNorm over E (weight, bias [E] or undefined, any float dtype; float32
// statistics, two-pass as nn::layer_norm) on the float32 gated sum: the whole Gate in one
// kernel. CPU: = nn::layer_norm(gated_sum(...)) (float32). On CUDA the norm reads the unrounded
// float32 sum (the unfused float16 sequence rounded it to float16 first).
Tensor gated_sum_layer_norm(const Tensor& g, const Tensor& x1, const Tensor& x2,
                            const Tensor& weight, const Tensor& bias, float eps, DType out_dtype);

#ifdef UM_WITH_CUDA
namespace detail {
// The CUDA implementations behind the mixed-precision fusions (dfine_mixed_cuda.cu).
// out2 == nullptr: add_mixed (one output); else add_mixed2, the second output in *out2.
// b is clamped to [b_lo, b_hi] first (infinite bounds: no clamp).
Tensor add_mixed_cuda(const Tensor& a, const Tensor& b, DType out_dtype, float b_lo, float b_hi,
                      const DType* out2_dtype = nullptr, Tensor* out2 = nullptr);
// weight/bias undefined and norm == false: gated_sum; norm == true: gated_sum_layer_norm;
// g undefined: x1 + x2 instead of the gate (add_layer_norm with norm == true).
Tensor gated_sum_cuda(const Tensor& g, const Tensor& x1, const Tensor& x2, bool norm,
                      const Tensor& weight, const Tensor& bias, float eps, DType out_dtype);
// distribution_box (fdr_box_cuda.cu); arguments already checked.
Tensor distribution_box_cuda(const Tensor& corners, const std::vector<float>& project,
                             const Tensor& points, float reg_scale);
}  // namespace detail
#endif

}  // namespace um::nn
