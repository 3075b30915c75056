// File: src/models/mobilesam/two_way_transformer.cpp
// Purpose: TwoWayTransformer forward and loading (see two_way_transformer.h).
#include "models/mobilesam/two_way_transformer.h"

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "core/status.h"
#include "nn/ops.h"

namespace um::mobilesam {

namespace {

// The same tensor object (the same view of the same memory), so one projection GEMM can serve
// both uses.
bool same_view(const Tensor& a, const Tensor& b) {
  return a.storage() == b.storage() && a.offset() == b.offset() && a.shape() == b.shape() &&
         a.strides() == b.strides();
}

// y [B, L, n * C] (n projections side by side, contiguous) -> projection i as the head view
// [B, heads, L, C / heads]; the attention op reads strided operands.
Tensor heads_of(const Tensor& y, int64_t n, int64_t i, int64_t heads) {
  const int64_t b = y.size(0), l = y.size(1), d = y.size(2) / n / heads;
  return y.view({b, l, n, heads, d}).select(2, i).permute({0, 2, 1, 3});
}

// Linear layers stacked along the output dim: one GEMM computes them all on the same input.
Linear stacked(const std::vector<const Linear*>& parts) {
  std::vector<Tensor> w, b;
  for (const Linear* l : parts) {
    w.push_back(l->weight);
    b.push_back(l->bias);
  }
  return {nn::concat(w, 0), nn::concat(b, 0)};
}

// The folded image-side projections (see TwoWayTransformer::forward): parts = the projections
// and whether each reads keys + key_pe (true) or the keys alone; pe: float32 host tokens.
struct FoldPart {
  const Linear* proj;
  bool reads_pe;
};
Linear stacked_weights(const std::vector<FoldPart>& parts) {
  std::vector<Tensor> w;
  for (const FoldPart& f : parts) w.push_back(f.proj->weight);
  return {nn::concat(w, 0), Tensor()};
}
Tensor folded_offset(const std::vector<FoldPart>& parts, const Tensor& pe) {
  std::vector<Tensor> pieces;
  for (const FoldPart& f : parts) {
    const int64_t out = f.proj->weight.size(0);
    pieces.push_back(f.reads_pe ? nn::linear(pe, f.proj->weight, f.proj->bias)
                                : nn::add(Tensor::zeros({pe.size(0), pe.size(1), out}),
                                          f.proj->bias));
  }
  return nn::concat(pieces, 2);
}

}  // namespace

Tensor SamAttention::operator()(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                const Tensor& residual) const {
  Tensor qh, kh, vh;
  if (qkv_proj.weight.defined() && same_view(q_in, k_in) && same_view(k_in, v_in)) {
    const Tensor y = qkv_proj(q_in);  // the first block's self-attention
    qh = heads_of(y, 3, 0, heads);
    kh = heads_of(y, 3, 1, heads);
    vh = heads_of(y, 3, 2, heads);
  } else if (qk_proj.weight.defined() && same_view(q_in, k_in)) {
    const Tensor y = qk_proj(q_in);  // self-attention with PE: q = k = queries + query_pe
    qh = heads_of(y, 2, 0, heads);
    kh = heads_of(y, 2, 1, heads);
    vh = heads_of(v_proj(v_in), 1, 0, heads);
  } else {
    qh = heads_of(q_proj(q_in), 1, 0, heads);
    kh = heads_of(k_proj(k_in), 1, 0, heads);
    vh = heads_of(v_proj(v_in), 1, 0, heads);
  }
  return attend(qh, kh, vh, residual);
}

Tensor SamAttention::attend(const Tensor& qh, const Tensor& kh, const Tensor& vh,
                            const Tensor& residual) const {
  const int64_t b = qh.size(0), lq = qh.size(2), d = qh.size(3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const Tensor o = nn::scaled_dot_product_attention(qh, kh, vh, Tensor(), scale);
  // An undefined residual gives the plain out_proj (nn::linear's contract).
  return out_proj(o.permute({0, 2, 1, 3}).reshape({b, lq, heads * d}), residual);
}

void SamAttention::place(const Placement& p) {
  if (p.device_layouts()) {
    // Device placements: the projections of a shared input as one GEMM (built from the float32
    // host weights). The CPU keeps three GEMMs, its results unchanged.
    qkv_proj = stacked({&q_proj, &k_proj, &v_proj});
    qk_proj = stacked({&q_proj, &k_proj});
    qkv_proj.place(p);
    qk_proj.place(p);
  }
  q_proj.place(p);
  k_proj.place(p);
  v_proj.place(p);
  out_proj.place(p);
}

void TwoWayTransformer::place(const Placement& p, const Tensor& key_pe_host,
                              const Tensor& key_pe_placed) {
  if (p.device_layouts() && key_pe_host.defined() && key_pe_placed.defined()) {
    // Fold the key PE into the image-side projections, from the float32 host weights.
    auto fold = [&](const std::vector<FoldPart>& parts) {
      FoldedKeys f{stacked_weights(parts), folded_offset(parts, key_pe_host)};
      f.proj.place(p);
      f.offset = placed(f.offset, p);
      return f;
    };
    folded_.clear();
    for (const Block& b : blocks_) {
      folded_.push_back(fold({{&b.cross_token_to_image.k_proj, true},
                              {&b.cross_token_to_image.v_proj, false},
                              {&b.cross_image_to_token.q_proj, true}}));
    }
    folded_final_ = fold({{&final_attn_.k_proj, true}, {&final_attn_.v_proj, false}});
    folded_pe_ = key_pe_placed;
  }
  for (Block& b : blocks_) {
    b.self_attn.place(p);
    b.cross_token_to_image.place(p);
    b.cross_image_to_token.place(p);
    b.norm1.place(p);
    b.norm2.place(p);
    b.norm3.place(p);
    b.norm4.place(p);
    b.lin1.place(p);
    b.lin2.place(p);
  }
  final_attn_.place(p);
  norm_final_.place(p);
}

SamAttention load_sam_attention(const io::WeightSource& w, const std::string& name, int64_t dim,
                                int64_t internal_dim, int64_t heads) {
  SamAttention a;
  a.q_proj = load_linear(w, name + ".q_proj", internal_dim, dim);
  a.k_proj = load_linear(w, name + ".k_proj", internal_dim, dim);
  a.v_proj = load_linear(w, name + ".v_proj", internal_dim, dim);
  a.out_proj = load_linear(w, name + ".out_proj", dim, internal_dim);
  a.heads = heads;
  return a;
}

TwoWayTransformer TwoWayTransformer::load(const io::WeightSource& w) {
  TwoWayTransformer t;
  const int64_t cross = kDim / kDownsample;
  for (int i = 0; i < kDepth; ++i) {
    const std::string p = "layers." + std::to_string(i);
    Block b;
    b.self_attn = load_sam_attention(w, p + ".self_attn", kDim, kDim, kHeads);
    b.cross_token_to_image = load_sam_attention(w, p + ".cross_attn_token_to_image", kDim, cross,
                                                kHeads);
    b.cross_image_to_token = load_sam_attention(w, p + ".cross_attn_image_to_token", kDim, cross,
                                                kHeads);
    b.norm1 = load_layer_norm(w, p + ".norm1", kDim);
    b.norm2 = load_layer_norm(w, p + ".norm2", kDim);
    b.norm3 = load_layer_norm(w, p + ".norm3", kDim);
    b.norm4 = load_layer_norm(w, p + ".norm4", kDim);
    b.lin1 = load_linear(w, p + ".mlp.lin1", kMlpDim, kDim);
    b.lin2 = load_linear(w, p + ".mlp.lin2", kDim, kMlpDim);
    b.skip_first_layer_pe = (i == 0);
    t.blocks_.push_back(std::move(b));
  }
  t.final_attn_ = load_sam_attention(w, "final_attn_token_to_image", kDim, cross, kHeads);
  t.norm_final_ = load_layer_norm(w, "norm_final_attn", kDim);
  return t;
}

bool TwoWayTransformer::folds(const Tensor& key_pe) const {
  return folded_pe_.defined() && !blocks_.empty() && same_view(key_pe, folded_pe_);
}

Tensor TwoWayTransformer::first_image_projection(const Tensor& image_tokens,
                                                 const Tensor& key_pe) const {
  if (image_tokens.dim() != 3 || key_pe.shape() != image_tokens.shape()) {
    throw Error(StatusCode::kInvalidArgument,
                "TwoWayTransformer: inconsistent inputs: image tokens " +
                    shape_str(image_tokens.shape()) + ", key pe " + shape_str(key_pe.shape()));
  }
  if (!folds(key_pe)) return Tensor();
  return folded_[0].proj(image_tokens, /*residual=*/folded_[0].offset);
}

std::pair<Tensor, Tensor> TwoWayTransformer::forward(const Tensor& image_tokens,
                                                     const Tensor& key_pe, const Tensor& tokens,
                                                     const Tensor& first_projection) const {
  if (image_tokens.dim() != 3 || key_pe.shape() != image_tokens.shape() || tokens.dim() != 3 ||
      tokens.size(0) != image_tokens.size(0) || tokens.size(2) != image_tokens.size(2)) {
    throw Error(StatusCode::kInvalidArgument,
                "TwoWayTransformer: inconsistent inputs: image tokens " +
                    shape_str(image_tokens.shape()) + ", key pe " + shape_str(key_pe.shape()) +
                    ", tokens " + shape_str(tokens.shape()));
  }
  if (folds(key_pe)) {
    if (first_projection.defined() && first_projection.shape() != folded_[0].offset.shape()) {
      throw Error(StatusCode::kInvalidArgument,
                  "TwoWayTransformer: first projection " + shape_str(first_projection.shape()) +
                      ", expected " + shape_str(folded_[0].offset.shape()));
    }
    return forward_folded(image_tokens, tokens, first_projection);
  }
  if (first_projection.defined()) {
    throw Error(StatusCode::kInvalidArgument,
                "TwoWayTransformer: a first projection was given but this key PE is not the "
                "folded one (first_image_projection returns none for it)");
  }
  const Tensor& query_pe = tokens;
  Tensor queries = tokens;
  Tensor keys = image_tokens;
  // queries + query_pe and keys + key_pe for the CURRENT queries / keys (undefined until
  // computed). The official code recomputes them before every attention; here each sum comes
  // with the post-norm that changes its operand (LayerNorm::with_add: one pass on CUDA) and
  // serves every attention until the next change: q_pe from norm3 also feeds the next block's
  // self-attention and the final attention, k_pe from norm4 both cross-attentions of the next
  // block and the final attention. Same values, fewer passes.
  Tensor q_pe, k_pe;
  for (const Block& blk : blocks_) {
    if (blk.skip_first_layer_pe) {
      queries = blk.self_attn(queries, queries, queries);  // no PE, no residual (official)
    } else {
      if (!q_pe.defined()) q_pe = nn::add(queries, query_pe);
      queries = blk.self_attn(q_pe, q_pe, queries, /*residual=*/queries);
    }
    std::tie(queries, q_pe) = blk.norm1.with_add(queries, query_pe);

    if (!k_pe.defined()) k_pe = nn::add(keys, key_pe);
    queries = blk.norm2(blk.cross_token_to_image(q_pe, k_pe, keys, /*residual=*/queries));

    std::tie(queries, q_pe) =
        blk.norm3.with_add(blk.lin2(blk.lin1.with_act(queries, nn::Activation::kReLU),
                                    /*residual=*/queries),
                           query_pe);

    std::tie(keys, k_pe) = blk.norm4.with_add(
        blk.cross_image_to_token(k_pe, q_pe, queries, /*residual=*/keys), key_pe);
  }
  if (!q_pe.defined()) q_pe = nn::add(queries, query_pe);  // depth 0 only
  if (!k_pe.defined()) k_pe = nn::add(keys, key_pe);
  queries = norm_final_(final_attn_(q_pe, k_pe, keys, /*residual=*/queries));
  return {queries, keys};
}

std::pair<Tensor, Tensor> TwoWayTransformer::forward_folded(const Tensor& image_tokens,
                                                            const Tensor& tokens,
                                                            const Tensor& first_projection) const {
  // forward()'s sequence with the image-side projections taken from the folded GEMMs; the
  // token side (self-attention, the tokens' projections, the MLP, the norms) is unchanged.
  const Tensor& query_pe = tokens;
  Tensor queries = tokens;
  Tensor keys = image_tokens;
  Tensor q_pe;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& blk = blocks_[i];
    const SamAttention &t2i = blk.cross_token_to_image, &i2t = blk.cross_image_to_token;
    if (blk.skip_first_layer_pe) {
      queries = blk.self_attn(queries, queries, queries);
    } else {
      if (!q_pe.defined()) q_pe = nn::add(queries, query_pe);
      queries = blk.self_attn(q_pe, q_pe, queries, /*residual=*/queries);
    }
    std::tie(queries, q_pe) = blk.norm1.with_add(queries, query_pe);

    // [1, HW, 3 * internal]: tokens->image k (of keys + pe), v (of keys), image->tokens q (of
    // keys + pe), in one GEMM. The keys only change at norm4, after their last use here.
    // (The first block's may have been computed already: first_image_projection.)
    const Tensor proj = i == 0 && first_projection.defined()
                            ? first_projection
                            : folded_[i].proj(keys, /*residual=*/folded_[i].offset);
    queries = blk.norm2(t2i.attend(heads_of(t2i.q_proj(q_pe), 1, 0, t2i.heads),
                                   heads_of(proj, 3, 0, t2i.heads),
                                   heads_of(proj, 3, 1, t2i.heads), /*residual=*/queries));

    std::tie(queries, q_pe) =
        blk.norm3.with_add(blk.lin2(blk.lin1.with_act(queries, nn::Activation::kReLU),
                                    /*residual=*/queries),
                           query_pe);

    keys = blk.norm4(i2t.attend(heads_of(proj, 3, 2, i2t.heads),
                                heads_of(i2t.k_proj(q_pe), 1, 0, i2t.heads),
                                heads_of(i2t.v_proj(queries), 1, 0, i2t.heads),
                                /*residual=*/keys));
  }
  if (!q_pe.defined()) q_pe = nn::add(queries, query_pe);  // depth 0 only
  const Tensor proj = folded_final_.proj(keys, /*residual=*/folded_final_.offset);  // k | v
  const SamAttention& fa = final_attn_;
  queries = norm_final_(fa.attend(heads_of(fa.q_proj(q_pe), 1, 0, fa.heads),
                                  heads_of(proj, 2, 0, fa.heads), heads_of(proj, 2, 1, fa.heads),
                                  /*residual=*/queries));
  return {queries, keys};
}

}  // namespace um::mobilesam
