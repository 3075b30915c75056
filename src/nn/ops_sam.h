// File: src/nn/ops_sam.h
// Purpose: the small MobileSAM-specific ops that let the whole SAM frame path stay on the GPU
// (no host loop over device data): the preprocessing after the Pillow resize, the box prompt's
// coordinate transform + random-Fourier encoding, and the mask threshold. Each has a CPU
// reference (<op>_cpu.cpp, float32) and a CUDA kernel (<op>_cuda.cu) behind the same function,
// dispatched on the input's device like nn/ops.h; CUDA kernels run on the current stream, never
// synchronise and allocate only Tensors (capturable in a CUDA graph).
// Usage:
//   Tensor input = nn::sam_normalize_pad(resized_u8_hwc, 1024, DType::kF16);   // [1, 3, 1024, 1024]
//   Tensor sparse = nn::sam_box_prompt(box_xyxy, gaussian, corner_embed, params);  // [1, 2, 256]
//   Tensor mask = nn::threshold_u8(logits, 0.f);                                 // uint8, 1 if > 0
//   Tensor o = nn::window_attention(qkv, pad_qkv, bias, {64, 64, 14, 5, 32, 0.17677f});
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace um::nn {

// SAM's pixel mean / std (Sam.pixel_mean / pixel_std), RGB order.
inline constexpr float kSamPixelMean[3] = {123.675f, 116.28f, 103.53f};
inline constexpr float kSamPixelStd[3] = {58.395f, 57.12f, 57.375f};

// Sam.preprocess after ResizeLongestSide: uint8 [h, w, C] (C = 3 RGB, or C = 1 gray which is
// replicated to the three channels, exactly what gray->RGB then a per-channel resize gives) ->
// [1, 3, size, size] of `dtype`: (x - mean[c]) / std[c] computed in float32 (a division, as
// PyTorch does), zero on the bottom/right padding. h, w <= size. CPU: dtype float32 only;
// CUDA: float32 or float16 (rounded from the float32 value).
Tensor sam_normalize_pad(const Tensor& resized_hwc_u8, int64_t size, DType dtype);

// What the CPU predictor does to a box before the prompt encoder, in the same arithmetic:
//   check_prompt's clamp to [0, frame_w] x [0, frame_h] (float),
//   ResizeLongestSide.apply_boxes: x * scale_x, y * scale_y in double, rounded to float,
//   PromptEncoder: (c + 0.5) / input_size, 2p - 1, 2*pi * (p @ gaussian), [sin, cos],
//   plus the learned corner embedding (point_embeddings[2] and [3]).
struct SamBoxPromptParams {
  float frame_w = 0.f, frame_h = 0.f;  // clamp range
  double scale_x = 0.0, scale_y = 0.0;  // input_w / orig_w, input_h / orig_h
  float input_size = 1024.f;            // the prompt encoder's input_image_size
};
// box_xyxy: float32, 4 values (x0, y0, x1, y1 in frame pixels; any shape with 4 elements);
// gaussian: float32 [2, D/2]; corner_embed: float32 [2, D]; all on one device.
// Returns float32 [1, 2, D]: the sparse embedding of a box-only prompt.
// NaN/inf or inverted boxes are NOT checked here (device data): the caller guarantees them; a
// NaN coordinate is clamped to 0 (fmax semantics, on both devices), +-inf to the range ends.
Tensor sam_box_prompt(const Tensor& box_xyxy, const Tensor& gaussian, const Tensor& corner_embed,
                      const SamBoxPromptParams& params);

// uint8 tensor of x's shape (contiguous): 1 where x > threshold, else 0 (NaN -> 0).
// CPU: float32; CUDA: float32 or float16.
Tensor threshold_u8(const Tensor& x, float threshold = 0.f);

// TinyViT's windowed self-attention (TinyViTBlock: pad the token grid with zeros to multiples of
// the window, split into ws x ws windows, Attention = norm -> qkv -> softmax(scale q k^T + bias) v
// per head, merge, crop) in ONE op that starts from the qkv projection of the UNPADDED tokens.
// The norm and the qkv projection act on each token alone, so they commute with the split; a
// padding token (zero vector) always projects to the same row, qkv(norm(0)), which the caller
// computes once (pad_qkv). The split, the merge and the crop are only index arithmetic here: the
// CUDA kernel reads each window's tokens in place and writes each in-image token's result once.
struct WindowAttentionParams {
  int64_t height = 0, width = 0;  // the token grid of one image (tokens in row-major order)
  int64_t window = 0;             // ws: windows of ws x ws tokens, the grid padded bottom/right
  int64_t heads = 0, key_dim = 0;  // qkv per head packed as (q: key_dim | k: key_dim | v: key_dim)
  float scale = 1.f;               // applied to q k^T before the bias
};
// qkv [B, height*width, heads*3*key_dim]; pad_qkv [heads*3*key_dim] (any shape of that many
// elements), required when height or width is not a multiple of window, else ignored (may be
// undefined); bias [heads, ws*ws, ws*ws] (any shape of that many elements, e.g. [1, heads, N, N]).
// Returns [B, height*width, heads*key_dim] (contiguous): per token, the heads' outputs side by
// side (what TinyViT's proj reads). Softmax statistics in float32. CPU: float32 (the reference:
// the padded windows are built and nn::scaled_dot_product_attention runs on them, exactly the
// official sequence); CUDA: float32 or float16, all operands of qkv's dtype and device.
Tensor window_attention(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias,
                        const WindowAttentionParams& p);

}  // namespace um::nn

namespace um::nn::detail {
// CUDA implementations (defined in the <op>_cuda.cu files; only linked with the CUDA backend).
Tensor sam_normalize_pad_cuda(const Tensor& resized_hwc_u8, int64_t size, DType dtype);
Tensor sam_box_prompt_cuda(const Tensor& box_xyxy, const Tensor& gaussian,
                           const Tensor& corner_embed, const SamBoxPromptParams& params);
Tensor threshold_u8_cuda(const Tensor& x, float threshold);
Tensor window_attention_cuda(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias,
                             const WindowAttentionParams& p);
}  // namespace um::nn::detail
