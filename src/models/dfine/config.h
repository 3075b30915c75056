// File: src/models/dfine/config.h
// Purpose: what a D-FINE checkpoint is: the variant (N, S, M, L, X), backbone (HGNetv2 B0..B6),
// class count and every width/depth, as read off the tensor shapes of the loaded model, plus the
// user's options (overrides that must agree with the checkpoint, resize mode, input size).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace um::dfine {

enum class Variant { kAuto, kN, kS, kM, kL, kX, kCustom };
enum class ResizeMode { kStretch, kLetterbox };

const char* variant_name(Variant v);  // "n", "s", "m", "l", "x", "custom", "auto"
// "auto|n|s|m|l|x" (case-insensitive) -> Variant, or kInvalidArgument.
Result<Variant> parse_variant(const std::string& s);
Result<ResizeMode> parse_resize_mode(const std::string& s);  // "stretch" | "letterbox"

struct Options {
  Variant variant = Variant::kAuto;  // an override must match what the checkpoint holds
  int num_classes = -1;              // -1: from the checkpoint; otherwise must match it
  ResizeMode resize = ResizeMode::kStretch;
  int input_height = 640, input_width = 640;  // multiples of 32; anchors follow the size
  float letterbox_fill = 0.f;  // value of the letterbox border, in [0, 1] input units
  int num_queries = 300;
  int encoder_heads = 8;  // AIFI heads: not recoverable from shapes; 8 in every official config
  // Where the model runs. The weights are loaded and prepared on the CPU, then uploaded once.
  // dtype is the compute dtype of the activations: float32, or float16 on CUDA only (the box
  // chain and the sampling coordinates stay float32 in float16 mode, SPEC 3).
  Device device = Device::cpu();
  DType dtype = DType::kF32;
  // Per-stage float16 policy (only read when dtype is kF16): a stage that is not half keeps its
  // weights and activations in float32 (its input is converted on the device, its output
  // converted to the next stage's dtype). Default: encoder and decoder half, backbone float32.
  // Measured on an H200 with the D-FINE-S fixture: a float16 backbone moves that frame's (nearly
  // tied, < 0.09) top scores by up to 0.018, beyond the 1e-2 the fp16 contract allows; with a
  // float32 backbone every policy check passes, for ~0.14 ms more per D-FINE-S forward.
  bool half_backbone = false;
  bool half_encoder = true;
  bool half_decoder = true;
  // In float16 mode, a float32 backbone (half_backbone false) may run the convolutions of its
  // first `tf32_backbone_parts` parts (the stem, then stages 1, 2, ...; 5 = the whole B0..B6
  // backbone) on TF32 tensor cores (float32 storage, operands rounded to a 10-bit mantissa,
  // float32 sums) instead of float32 FMA kernels. Not read in float32 mode, which stays exact
  // (the CPU parity contract). Default 0: measured on an H200, a whole-backbone TF32 made
  // D-FINE-S ~0.2 ms faster but moved a D-FINE-N fixture detection (#27, score 0.83) beyond the
  // fp16 contract (1 px / 1e-2), as a float16 backbone does (#17).
  int tf32_backbone_parts = 0;
  bool backbone_tf32() const {
    return dtype == DType::kF16 && !half_backbone && tf32_backbone_parts > 0 && device.is_cuda();
  }
  // In float16 mode, the float32 backbone's convolutions may run as 3xTF32 tensor-core products
  // (nn::Conv2dParams::allow_split_tf32: float32-grade, ~1e-5 relative) where the own conv
  // kernel is faster than cuDNN's FFMA kernels (the stem and stage 1 at 640x640). Not read in
  // float32 mode, which keeps cuDNN's exact FFMA convolutions (the CPU parity contract).
  bool split_tf32_backbone = true;
  bool backbone_split_tf32() const {
    return dtype == DType::kF16 && !half_backbone && split_tf32_backbone && device.is_cuda();
  }
  // In float16 mode, the decoder's float32 box chain (the bbox, query-position and pre-bbox MLP
  // heads, the sampling-offset and class linears over the query rows) may run its fused MLP
  // kernel on 3xTF32 tensor-core products (nn::MlpParams::allow_split_tf32: ~1e-6 of the output's
  // scale) instead of FFMA. Not read in float32 mode (the CPU parity contract).
  bool split_tf32_box_chain = true;
  bool box_chain_split_tf32() const {
    return dtype == DType::kF16 && split_tf32_box_chain && device.is_cuda();
  }
  // The compute dtype of each stage under this policy.
  DType backbone_dtype() const { return stage_dtype(half_backbone); }
  DType encoder_dtype() const { return stage_dtype(half_encoder); }
  DType decoder_dtype() const { return stage_dtype(half_decoder); }
  DType stage_dtype(bool half) const {
    return dtype == DType::kF16 && half ? DType::kF16 : DType::kF32;
  }
};

struct Config {
  Variant variant = Variant::kCustom;
  std::string backbone;  // "B0".."B6" or "custom"
  int num_classes = 0;
  int input_channels = 3;  // 1 for a mono checkpoint
  bool use_lab = false;
  std::vector<int> return_idx;   // backbone stages fed to the encoder
  std::vector<int> feat_strides;
  std::vector<int64_t> encoder_in_channels;
  int64_t hidden_dim = 0;          // encoder
  int64_t decoder_hidden_dim = 0;
  int64_t dim_feedforward = 0;     // encoder AIFI
  int encoder_depth = 0;           // bottlenecks per CSP layer (round(3 * depth_mult))
  int64_t encoder_csp_channels = 0;
  int decoder_layers = 0;
  int decoder_heads = 0;
  std::vector<int> num_points;
  int reg_max = 0;
  std::string summary() const;  // one line for logs
};

// Picks the official variant name from the backbone, level count and encoder width (B0 with 2
// levels and width 128 is N; with 3 levels: B0/256 S, B2/256 M, B4/256 L, B5/384 X); anything
// else (e.g. a custom width) is kCustom.
Variant classify_variant(const std::string& backbone, size_t levels, int64_t hidden_dim);
// Names the HGNetv2 preset from stem widths and layers per block ("custom" if none matches).
std::string classify_backbone(int64_t stem_mid, int64_t stem_out, int layers_per_block);

}  // namespace um::dfine
