// File: src/models/dfine/hgnetv2.h
// Purpose: the HGNetv2 backbone (B0..B6) of D-FINE, built from the checkpoint's shapes: stem
// widths, stage count, blocks per stage, layers per block, light (1x1 + depthwise) or plain
// blocks, kernel sizes and the learnable affine (use_lab) are all read off the tensors.
// Stem (official StemBlock): stem1 3x3/2 -> pad right/bottom 1 -> [stem2a 2x2 -> pad -> stem2b
// 2x2] and [maxpool 2x2/1 ceil_mode] on the padded tensor -> concat(pool, stem2b) -> stem3 3x3/2
// -> stem4 1x1. A stem1 with one input channel (mono checkpoint) takes gray input; an RGB stem
// also runs on gray input through the sum of its weights over input channels (exact for gray
// replicated to RGB).
// Usage:
//   HGNetv2 b = HGNetv2::load(ws.sub("backbone."));
//   std::vector<Tensor> stages = b.forward(x);   // every stage's output, stride 4, 8, 16, 32
#pragma once

#include <vector>

#include "models/dfine/layers.h"

namespace um::dfine {

class HGNetv2 {
 public:
  static HGNetv2 load(const io::WeightSource& w);
  // Moves every weight to p (after load-time host arithmetic such as the gray stem).
  // Weights to p's device and dtype. With p.tf32, the convolutions of the first `tf32_parts`
  // parts (the stem, then stages 1, 2, ...) may use TF32 tensor cores, the rest stay exact.
  void place(const Placement& p, int tf32_parts = 0);

  // All stage outputs (the model picks its return_idx from them).
  std::vector<Tensor> forward(const Tensor& x) const;

  int64_t in_channels() const { return stem1_.in_channels(); }
  int64_t stem_mid_channels() const { return stem1_.out_channels(); }
  int64_t stem_out_channels() const { return stem4_.out_channels(); }
  const std::vector<int64_t>& stage_out_channels() const { return stage_out_; }
  const std::vector<int>& stage_strides() const { return stage_stride_; }
  std::vector<int> blocks_per_stage() const;
  int layers_per_block() const;
  bool use_lab() const { return stem1_.lab; }

 private:
  struct Layer {  // ConvBNAct, or LightConvBNAct (1x1 without activation, then depthwise)
    bool light = false;
    ConvBN conv, conv1, conv2;
    Tensor operator()(const Tensor& x) const { return light ? conv2(conv1(x)) : conv(x); }
  };
  struct Block {
    std::vector<Layer> layers;
    ConvBN agg_squeeze, agg_excite;
    bool residual = false;
  };
  struct Stage {
    bool has_downsample = false;
    ConvBN downsample;
    std::vector<Block> blocks;
  };

  Tensor stem(const Tensor& x) const;

  ConvBN stem1_, stem1_gray_, stem2a_, stem2b_, stem3_, stem4_;
  std::vector<Stage> stages_;
  std::vector<int64_t> stage_out_;
  std::vector<int> stage_stride_;
};

}  // namespace um::dfine
