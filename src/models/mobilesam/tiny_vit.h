// File: src/models/mobilesam/tiny_vit.h
// Purpose: MobileSAM's image encoder, TinyViT-5M with SAM's neck: a normalised, zero-padded
// [1, 3, 1024, 1024] image -> image embedding [1, 256, 64, 64].
// Structure (tiny_vit_sam.py): patch embed (two 3x3/2 Conv2d_BN with GELU) -> stage 0 of MBConv
// blocks -> stages 1-3 of TinyViT blocks (window attention with a learned relative-position bias,
// depthwise 3x3 local conv, MLP), each stage but the last ending in a PatchMerging (the one into
// dim 320 keeps stride 1, so stages 2 and 3 both run at 64x64) -> neck (1x1 conv, LayerNorm2d,
// 3x3 conv, LayerNorm2d; eps 1e-6). Conv2d_BN BatchNorms are folded at load. GELU is exact.
// Usage:
//   TinyVit enc = TinyVit::load(io::WeightSource(tensors, "image_encoder."));
//   enc.place({Device::cuda(), DType::kF16});                   // optional, once at load
//   Tensor emb = enc.forward(input);   // throws um::Error on a wrong input shape
// Device: forward() runs where the weights are (nn ops dispatch on the input's device; the
// window split/merge lives inside nn::window_attention), in the placement's dtype, no host sync.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "models/mobilesam/layers.h"

namespace um::mobilesam {

struct TinyVitConfig {
  std::vector<int64_t> dims = {64, 128, 160, 320};
  std::vector<int> depths = {2, 2, 6, 2};
  std::vector<int> heads = {2, 4, 5, 10};
  std::vector<int> windows = {7, 7, 14, 7};
  int64_t img_size = 1024;
  int64_t neck_dim = 256;
  int64_t mlp_ratio = 4;
  int64_t mbconv_expand = 4;
};

class TinyVit {
 public:
  // Reads every image_encoder weight (keys relative to `w`'s prefix); throws um::Error naming
  // a missing key or a shape mismatch.
  static TinyVit load(const io::WeightSource& w, const TinyVitConfig& cfg = {});
  // Moves every weight (and the expanded attention-bias tables) to p.device in p.dtype.
  void place(const Placement& p);
  // x [1, 3, img_size, img_size] on the weights' device and dtype ->
  // [1, neck_dim, img_size/16, img_size/16] (same device and dtype).
  Tensor forward(const Tensor& x) const;
  const TinyVitConfig& config() const { return cfg_; }

 private:
  struct MBConv {
    Conv conv1, conv2, conv3;
  };
  struct PatchMerging {
    Conv conv1, conv2, conv3;
  };
  struct WindowAttention {
    LayerNorm norm;
    Linear qkv, proj;
    Tensor bias;  // [1, heads, ws*ws, ws*ws]: attention_biases gathered by |dy|*ws + |dx|
    // [heads * 3 * key_dim]: qkv(norm(0)) = qkv.weight @ norm.bias + qkv.bias, the projection of
    // every zero token the official block pads the grid with (computed once at load, float32).
    Tensor pad_qkv;
    int64_t heads = 0, key_dim = 0;
    // tokens [B, h*w, C] -> tokens + proj(attention) [B, h*w, C]: TinyViTBlock's pad, split,
    // Attention, merge, crop and residual (norm and qkv act per token, so they run before the
    // split, on h*w tokens; the residual add is the projection GEMM's C input on CUDA).
    Tensor operator()(const Tensor& tokens, int64_t h, int64_t w, int64_t window) const;
  };
  struct Block {
    WindowAttention attn;
    Conv local_conv;
    LayerNorm mlp_norm;
    Linear fc1, fc2;
    int64_t window = 0;
    Tensor forward(const Tensor& tokens, int64_t h, int64_t w) const;
  };
  struct Stage {
    std::vector<MBConv> mbconvs;  // stage 0 only
    std::vector<Block> blocks;    // stages 1..3
    std::optional<PatchMerging> downsample;
  };

  TinyVitConfig cfg_;
  Conv embed0_, embed1_;
  std::vector<Stage> stages_;
  Conv neck_conv0_, neck_conv1_;
  LayerNorm2d neck_norm0_, neck_norm1_;
};

}  // namespace um::mobilesam
