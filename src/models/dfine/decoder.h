// File: src/models/dfine/decoder.h
// Purpose: D-FINE's transformer decoder (DFINETransformer, eval mode): anchors regenerated for
// the input's feature sizes, query selection (top-k tokens by max class logit), decoder layers
// (self-attention, deformable cross-attention, gate, FFN) with fine-grained distribution
// refinement, and the LQE-adjusted logits of the last layer.
// Usage:
//   Decoder d = Decoder::load(ws.sub("decoder."), num_levels);
//   DecoderOutput o = d.forward(encoder_outputs);   // o.logits [B, 300, C], o.boxes [B, 300, 4]
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "models/dfine/box_refine.h"
#include "models/dfine/deformable_attention.h"
#include "models/dfine/layers.h"

namespace um::dfine {

struct DecoderOutput {
  Tensor logits;  // [B, Q, C] float32
  Tensor boxes;   // [B, Q, 4] float32, normalised cx, cy, w, h
};

// Anchors for feature sizes (H, W) per level, as _generate_anchors: logits of
// ((x+0.5)/W, (y+0.5)/H, 0.05*2^l, 0.05*2^l), +inf where any coordinate is outside (eps, 1-eps);
// valid [1, L, 1] as 0/1.
std::pair<Tensor, Tensor> generate_anchors(const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                           float grid_size = 0.05f, float eps = 1e-2f);

class Decoder {
 public:
  static Decoder load(const io::WeightSource& w, int num_levels, int num_queries = 300);

  DecoderOutput forward(const std::vector<Tensor>& feats) const;
  // Moves the weights to p: the box chain (enc_bbox, query_pos, pre_bbox, dec_bbox, LQE,
  // sampling offsets) and the class heads (dec_score) stay float32; the rest takes p.dtype.
  // Outputs are float32 either way.
  void place(const Placement& p);
  // Builds and uploads anchors and valid mask for these level sizes (device models).
  void prepare(const std::vector<std::pair<int64_t, int64_t>>& shapes) const;

  int64_t hidden_dim() const { return hidden_; }
  int64_t num_classes() const { return enc_score_.out_features(); }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  int reg_max() const { return reg_max_; }
  int num_heads() const { return layers_.empty() ? 0 : layers_[0].cross.num_heads(); }
  const std::vector<int>& num_points() const { return layers_[0].cross.points_per_level(); }
  int64_t dim_feedforward() const { return layers_.empty() ? 0 : layers_[0].linear1.out_features(); }
  const std::vector<int64_t>& feat_channels() const { return feat_channels_; }

 private:
  struct Layer {
    nn::MultiheadAttentionWeights self_attn;
    LayerNormW norm1, gate_norm, norm3;
    DeformableAttention cross;
    Linear gate, linear1, linear2;
    // The official query_pos_embed is clamp(query_pos_head(ref), -10, 10); pos here is the
    // unclamped head output, clamped inside the sums that use it (one kernel fewer on CUDA).
    static constexpr float kPosClamp = 10.f;
    Tensor operator()(const Tensor& target, const Tensor& ref, const Tensor& memory,
                      const std::vector<std::pair<int64_t, int64_t>>& shapes,
                      const Tensor& pos) const;
  };

  std::pair<Tensor, Tensor> anchors_for(const std::vector<std::pair<int64_t, int64_t>>& shapes) const;

  struct AnchorCache {
    std::mutex mu;
    // level sizes -> (anchors float32 [1, L, 4], valid [1, L, 1] in the compute dtype), placed
    std::map<std::vector<std::pair<int64_t, int64_t>>, std::pair<Tensor, Tensor>> by_shapes;
  };
  Placement placement_;
  std::shared_ptr<AnchorCache> anchor_cache_ = std::make_shared<AnchorCache>();

  int64_t hidden_ = 0;
  int num_queries_ = 300;
  int reg_max_ = 32;
  float reg_scale_ = 4.f, up_ = 0.5f;
  std::vector<int64_t> feat_channels_;
  std::vector<ConvBN> input_proj_;  // empty entries are identity (feat channels == hidden)
  std::vector<bool> has_input_proj_;
  Linear enc_proj_, enc_score_;
  LayerNormW enc_norm_;
  Mlp enc_bbox_, query_pos_, pre_bbox_;
  std::vector<Linear> dec_score_;
  std::vector<Mlp> dec_bbox_;
  std::vector<Lqe> lqe_;
  std::vector<Layer> layers_;
  std::vector<float> project_;
};

}  // namespace um::dfine
