// File: src/models/mobilesam/two_way_transformer.h
// Purpose: SAM's TwoWayTransformer (depth 2, 8 heads, MLP 2048 with ReLU): prompt tokens and
// image tokens attend to each other. Per block: token self-attention (the FIRST block uses no
// positional encoding and no residual: its output replaces the queries), tokens->image
// cross-attention, MLP on tokens, image->tokens cross-attention; post-norm (LayerNorm eps 1e-5)
// after each. Cross-attentions project to 256/2 = 128 channels ("downsample rate 2"). A final
// tokens->image attention and LayerNorm close it.
// Usage:
//   TwoWayTransformer t = TwoWayTransformer::load(w.sub("transformer."));
//   auto [tokens_out, image_out] = t.forward(image_tokens [1,4096,256], key_pe [1,4096,256],
//                                            tokens [1,N,256]);
// The image side comes in token layout [B, H*W, C] (the official code flattens and permutes
// its NCHW input first): the mask decoder builds it so, without a separate transpose pass.
#pragma once

#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/weight_source.h"
#include "models/mobilesam/layers.h"

namespace um::mobilesam {

// segment_anything.modeling.transformer.Attention: separate q/k/v projections to internal_dim,
// heads, softmax(q k^T / sqrt(d)) v, out projection back to embedding_dim.
// With a residual [B, Lq, embedding_dim]: residual + attention(q, k, v), the add being the out
// projection GEMM's C input on CUDA (Linear::operator()(x, residual)); on the CPU exactly
// nn::add(residual, attention(q, k, v)), the official `queries = queries + attn_out`.
// On device placements, q/k/v given as the same tensor share one projection GEMM (qkv_proj:
// the first block's self-attention; qk_proj: q = k = queries + query_pe), same math.
struct SamAttention {
  Linear q_proj, k_proj, v_proj, out_proj;
  Linear qkv_proj, qk_proj;  // device placements only: the projections stacked along dim 0
  int64_t heads = 8;
  Tensor operator()(const Tensor& q, const Tensor& k, const Tensor& v,
                    const Tensor& residual = Tensor()) const;
  // The part after the projections: qh/kh/vh already projected, as head views
  // [B, heads, L, d] (any strides with a contiguous last dim) -> out_proj(attention) (+ residual).
  Tensor attend(const Tensor& qh, const Tensor& kh, const Tensor& vh,
                const Tensor& residual = Tensor()) const;
  void place(const Placement& p);
};
SamAttention load_sam_attention(const io::WeightSource& w, const std::string& name, int64_t dim,
                                int64_t internal_dim, int64_t heads);

class TwoWayTransformer {
 public:
  static constexpr int64_t kDim = 256, kHeads = 8, kMlpDim = 2048, kDepth = 2, kDownsample = 2;
  static TwoWayTransformer load(const io::WeightSource& w);
  // key_pe_host (optional): the key positional encoding the model will always be run with
  // (SAM's dense PE), float32 host tokens [1, H*W, C], and key_pe_placed the same PE on the
  // device. On a device placement the PE is then folded into the image-side projections (see
  // forward()).
  void place(const Placement& p, const Tensor& key_pe_host = Tensor(),
             const Tensor& key_pe_placed = Tensor());
  // image_tokens [B, H*W, C], key_pe [B, H*W, C] (any strides), tokens [B, N, C] ->
  // {queries [B, N, C], keys [B, H*W, C]}. Shapes are checked (um::Error).
  // Device placements given key_pe_placed itself (the same view) take the folded path: the
  // projections that read keys + key_pe are linear, so (keys + pe) W^T + b = keys W^T +
  // (pe W^T + b) with the second term computed once at place(); each block's three 4096-row
  // projections (tokens->image k and v, image->tokens q) become ONE GEMM of the keys with that
  // constant as its C input, the final attention's k and v another, and keys + key_pe is never
  // formed. Same math, float rounding apart; the CPU runs the official sequence.
  // first_projection (optional): first_image_projection(image_tokens, key_pe), computed earlier
  // by a caller that had the image before the prompt.
  std::pair<Tensor, Tensor> forward(const Tensor& image_tokens, const Tensor& key_pe,
                                    const Tensor& tokens,
                                    const Tensor& first_projection = Tensor()) const;
  // The first block's folded image-side projections of image_tokens: they depend on the image
  // only, so they can run before the prompt exists (the CUDA frame graph computes them beside
  // D-FINE). Undefined where forward() would not take the folded path for this key_pe (CPU
  // placements, another PE): forward() then computes everything itself.
  Tensor first_image_projection(const Tensor& image_tokens, const Tensor& key_pe) const;

 private:
  struct Block {
    SamAttention self_attn, cross_token_to_image, cross_image_to_token;
    LayerNorm norm1, norm2, norm3, norm4;
    Linear lin1, lin2;
    bool skip_first_layer_pe = false;
  };
  // Image-side projections with the key PE folded in: keys @ proj^T + offset, where proj stacks
  // the projections' weights along dim 0 (no bias) and offset [1, H*W, n * internal] holds
  // pe W^T + b for a projection of keys + key_pe, b alone for one of keys.
  struct FoldedKeys {
    Linear proj;
    Tensor offset;
  };
  std::pair<Tensor, Tensor> forward_folded(const Tensor& image_tokens, const Tensor& tokens,
                                           const Tensor& first_projection) const;
  bool folds(const Tensor& key_pe) const;

  std::vector<Block> blocks_;
  SamAttention final_attn_;
  LayerNorm norm_final_;
  std::vector<FoldedKeys> folded_;  // per block: tokens->image k | v, image->tokens q
  FoldedKeys folded_final_;         // final attention: k | v
  Tensor folded_pe_;                // the placed key PE they hold (undefined: not folded)
};

}  // namespace um::mobilesam
