// File: src/models/dfine/hybrid_encoder.h
// Purpose: D-FINE's HybridEncoder: 1x1 conv+BN input projections, AIFI (one post-norm
// transformer encoder layer with a 2D sin-cos position embedding and a GELU FFN) on the last
// level, a top-down FPN (lateral 1x1 conv+BN, nearest x2, RepNCSPELAN4) and a bottom-up PAN
// (SCDown + RepNCSPELAN4). Widths, depth (bottlenecks per CSP layer) and level count come from
// the checkpoint's shapes.
// Usage:
//   HybridEncoder e = HybridEncoder::load(ws.sub("encoder."), /*num_heads=*/8);
//   std::vector<Tensor> outs = e.forward({s8, s16, s32});   // hidden_dim channels each
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "models/dfine/layers.h"

namespace um::dfine {

// The 2D sin-cos embedding [1, w*h, dim] exactly as the official
// build_2d_sincos_position_embedding(w, h, dim, temperature): meshgrid(arange(w), arange(h),
// indexing='ij'), flattened, so token k gets (k / h) in the first half and (k % h) in the second.
Tensor sincos_position_embedding_2d(int64_t w, int64_t h, int64_t dim, float temperature);

class HybridEncoder {
 public:
  static HybridEncoder load(const io::WeightSource& w, int num_heads);

  std::vector<Tensor> forward(const std::vector<Tensor>& feats) const;
  // Moves every weight to p; the position embedding then lives there too (cached per size).
  void place(const Placement& p);
  // Builds and uploads the position embedding for a last level of h x w (device models).
  void prepare(int64_t h, int64_t w) const;

  const std::vector<int64_t>& in_channels() const { return in_channels_; }
  int64_t hidden_dim() const { return hidden_; }
  int64_t dim_feedforward() const { return ffn_.out_features(); }
  int depth() const { return depth_; }           // bottlenecks per CSP layer
  int64_t csp_channels() const { return c4_; }   // round(expansion * hidden / 2)

 private:
  struct VggBlock {  // conv3x3+BN + conv1x1+BN, fused into one 3x3 at load time, then SiLU
    ConvBN fused;
  };
  struct CspLayer {
    ConvBN conv1, conv2;
    // Device placements: conv1 and conv2 (both 1x1 + SiLU on the same input) stacked along the
    // output channels, so both branches are one GEMM and one epilogue; undefined on the CPU,
    // which runs the official two convs.
    ConvBN conv12;
    std::vector<VggBlock> bottlenecks;
    bool has_conv3 = false;
    ConvBN conv3;
    Tensor operator()(const Tensor& x) const;
    void place(const Placement& p);
  };
  struct RepNCSPELAN4 {
    ConvBN cv1, cv2_conv, cv3_conv, cv4;
    CspLayer cv2_csp, cv3_csp;
    Tensor operator()(const Tensor& x) const;
  };
  struct ScDown {
    ConvBN cv1, cv2;
  };
  static VggBlock load_vgg(const io::WeightSource& w);
  static CspLayer load_csp(const io::WeightSource& w);
  static RepNCSPELAN4 load_elan(const io::WeightSource& w);
  Tensor aifi(const Tensor& x) const;
  Tensor position_embedding(int64_t w, int64_t h, int64_t c) const;

  struct PosCache {
    std::mutex mu;
    std::map<std::pair<int64_t, int64_t>, Tensor> by_size;  // (w, h) -> [1, w*h, c] float32 on the device
  };
  Placement placement_;
  std::shared_ptr<PosCache> pos_cache_ = std::make_shared<PosCache>();

  std::vector<int64_t> in_channels_;
  int64_t hidden_ = 0;
  int depth_ = 0;
  int64_t c4_ = 0;
  std::vector<ConvBN> input_proj_;
  // AIFI
  nn::MultiheadAttentionWeights attn_;
  Linear ffn_, ffn_out_;
  LayerNormW norm1_, norm2_;
  std::vector<ConvBN> lateral_;
  std::vector<RepNCSPELAN4> fpn_, pan_;
  std::vector<ScDown> downsample_;
};

}  // namespace um::dfine
