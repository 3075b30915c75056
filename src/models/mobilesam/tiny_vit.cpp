// File: src/models/mobilesam/tiny_vit.cpp
// Purpose: TinyViT-5M + neck forward pass and weight loading (see tiny_vit.h for the structure).
// Layout: the official code switches between NCHW (convs) and tokens [B, H*W, C] (attention);
// here the activations are tokens (channels last) from the patch embedding to the neck: 1x1
// convs are linear layers on them, depthwise convs run channels last (nn::depthwise_conv2d_nhwc),
// the window attention reads them in place (nn::window_attention). Same values, fewer copies.
#include "models/mobilesam/tiny_vit.h"

#include <cmath>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"
#include "nn/ops_sam.h"

namespace um::mobilesam {
namespace {

std::string idx(const std::string& base, int i) { return base + "." + std::to_string(i); }

// NCHW -> tokens [B, H*W, C].
Tensor to_tokens(const Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  return x.reshape({b, c, hw}).permute({0, 2, 1}).contiguous();
}
// tokens [B, H*W, C] -> NCHW.
Tensor to_nchw(const Tensor& t, int64_t h, int64_t w) {
  const int64_t b = t.size(0), c = t.size(2);
  return t.reshape({b, h, w, c}).permute({0, 3, 1, 2}).contiguous();
}

// A 1x1 Conv2d_BN on tokens [B, H*W, Cin] is a linear layer: its [Cout, Cin, 1, 1] weight
// viewed as [Cout, Cin] (optionally + residual, fused into the GEMM on CUDA).
Tensor pointwise(const Conv& c, const Tensor& tokens, const Tensor& residual = Tensor()) {
  return nn::linear(tokens, c.weight.view({c.weight.size(0), c.weight.size(1)}), c.bias,
                    residual);
}

// A depthwise Conv2d_BN on GELU(tokens) of an h x w grid, then GELU: the middle of TinyViT's
// MBConv and PatchMerging (conv1 -> GELU -> conv2 -> GELU); h and w become the output's. The
// GELU before the conv rides in the op (on CUDA it is applied while the conv stages its input,
// instead of a pass over the expanded tensor; on the CPU it is that pass).
Tensor gelu_depthwise_gelu(const Conv& c, const Tensor& tokens, int64_t& h, int64_t& w) {
  const int64_t b = tokens.size(0), ch = tokens.size(2);
  const Tensor y = nn::depthwise_conv2d_nhwc(tokens.view({b, h, w, ch}), c.weight, c.bias,
                                             c.params, nn::Activation::kGELU,
                                             /*in_act=*/nn::Activation::kGELU);
  h = y.size(1);
  w = y.size(2);
  return y.view({b, h * w, ch});
}

// attention_biases [heads, ws*ws] -> [1, heads, N, N] with N = ws*ws; the offset (|dy|, |dx|)
// was numbered in first-seen order over itertools.product, which is |dy| * ws + |dx|.
Tensor gather_attention_bias(const Tensor& table, int64_t heads, int64_t ws) {
  const int64_t n = ws * ws;
  Tensor out = Tensor::empty({1, heads, n, n});
  const float* t = table.data<float>();
  float* o = out.data<float>();
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const int64_t dy = std::abs(i / ws - j / ws), dx = std::abs(i % ws - j % ws);
        o[(h * n + i) * n + j] = t[h * n + dy * ws + dx];
      }
    }
  }
  return out;
}

}  // namespace

Tensor TinyVit::WindowAttention::operator()(const Tensor& tokens, int64_t h, int64_t w,
                                            int64_t window) const {
  const nn::WindowAttentionParams p{h, w, window, heads, key_dim,
                                    1.0f / std::sqrt(static_cast<float>(key_dim))};
  // tokens + proj(o): the residual add rides in the projection's GEMM.
  return proj(nn::window_attention(qkv(norm(tokens)), pad_qkv, bias, p), /*residual=*/tokens);
}

Tensor TinyVit::Block::forward(const Tensor& tokens, int64_t h, int64_t w) const {
  const int64_t b = tokens.size(0), c = tokens.size(2);
  Tensor x = attn(tokens, h, w, window);  // tokens + attention
  // The tokens [B, h*w, C] are the NHWC grid: the depthwise local conv reads them in place.
  x = nn::depthwise_conv2d_nhwc(x.view({b, h, w, c}), local_conv.weight, local_conv.bias,
                                local_conv.params)
          .view({b, h * w, c});
  return fc2(nn::gelu(fc1(mlp_norm(x))), /*residual=*/x);  // x + mlp(x)
}

TinyVit TinyVit::load(const io::WeightSource& w, const TinyVitConfig& cfg) {
  TinyVit m;
  m.cfg_ = cfg;
  const int64_t d0 = cfg.dims[0];
  m.embed0_ = load_conv_bn(w, "patch_embed.seq.0", d0 / 2, 3, 3, 2, 1);
  m.embed1_ = load_conv_bn(w, "patch_embed.seq.2", d0, d0 / 2, 3, 2, 1);
  const int num_stages = static_cast<int>(cfg.dims.size());
  for (int s = 0; s < num_stages; ++s) {
    Stage st;
    const std::string ls = idx("layers", s);
    const int64_t dim = cfg.dims[s];
    for (int bi = 0; bi < cfg.depths[s]; ++bi) {
      const std::string bs = idx(ls + ".blocks", bi);
      if (s == 0) {
        const int64_t hid = dim * cfg.mbconv_expand;
        st.mbconvs.push_back({load_conv_bn(w, bs + ".conv1", hid, dim, 1, 1, 0),
                              load_conv_bn(w, bs + ".conv2", hid, hid, 3, 1, 1, static_cast<int>(hid)),
                              load_conv_bn(w, bs + ".conv3", dim, hid, 1, 1, 0)});
        continue;
      }
      Block blk;
      const int64_t heads = cfg.heads[s], ws = cfg.windows[s], kd = dim / heads;
      blk.window = ws;
      blk.attn.heads = heads;
      blk.attn.key_dim = kd;
      blk.attn.norm = load_layer_norm(w, bs + ".attn.norm", dim);
      blk.attn.qkv = load_linear(w, bs + ".attn.qkv", 3 * dim, dim);
      blk.attn.proj = load_linear(w, bs + ".attn.proj", dim, dim);
      blk.attn.bias = gather_attention_bias(
          w.get(bs + ".attn.attention_biases", {heads, ws * ws}), heads, ws);
      // LayerNorm of a zero token is its bias (x - mean = 0), so its qkv row is a linear of it.
      blk.attn.pad_qkv = nn::linear(blk.attn.norm.bias.view({1, dim}), blk.attn.qkv.weight,
                                    blk.attn.qkv.bias)
                             .view({3 * dim});
      blk.local_conv = load_conv_bn(w, bs + ".local_conv", dim, dim, 3, 1, 1, static_cast<int>(dim));
      blk.mlp_norm = load_layer_norm(w, bs + ".mlp.norm", dim);
      blk.fc1 = load_linear(w, bs + ".mlp.fc1", dim * cfg.mlp_ratio, dim);
      blk.fc2 = load_linear(w, bs + ".mlp.fc2", dim, dim * cfg.mlp_ratio);
      st.blocks.push_back(std::move(blk));
    }
    if (s + 1 < num_stages) {
      const int64_t out = cfg.dims[s + 1];
      // tiny_vit_sam.py keeps stride 1 for the merge into the last width (320/448/576), so the
      // last two stages share the 64x64 grid.
      const int stride = (out == 320 || out == 448 || out == 576) ? 1 : 2;
      const std::string ds = ls + ".downsample";
      st.downsample = PatchMerging{load_conv_bn(w, ds + ".conv1", out, dim, 1, 1, 0),
                                   load_conv_bn(w, ds + ".conv2", out, out, 3, stride, 1,
                                                static_cast<int>(out)),
                                   load_conv_bn(w, ds + ".conv3", out, out, 1, 1, 0)};
    }
    m.stages_.push_back(std::move(st));
  }
  const int64_t last = cfg.dims.back();
  m.neck_conv0_ = load_conv(w, "neck.0", cfg.neck_dim, last, 1, 1, 0, /*has_bias=*/false);
  m.neck_norm0_ = load_layer_norm_2d(w, "neck.1", cfg.neck_dim);
  m.neck_conv1_ = load_conv(w, "neck.2", cfg.neck_dim, cfg.neck_dim, 3, 1, 1, false);
  m.neck_norm1_ = load_layer_norm_2d(w, "neck.3", cfg.neck_dim);
  return m;
}

void TinyVit::place(const Placement& p) {
  embed0_.place(p);
  embed1_.place(p);
  for (Stage& st : stages_) {
    for (MBConv& mb : st.mbconvs) {
      mb.conv1.place(p);
      mb.conv2.place(p);
      mb.conv3.place(p);
    }
    for (Block& blk : st.blocks) {
      blk.attn.norm.place(p);
      blk.attn.qkv.place(p);
      blk.attn.proj.place(p);
      blk.attn.bias = placed(blk.attn.bias, p);  // the gathered [1, heads, N, N] table
      blk.attn.pad_qkv = placed(blk.attn.pad_qkv, p);
      blk.local_conv.place(p);
      blk.mlp_norm.place(p);
      blk.fc1.place(p);
      blk.fc2.place(p);
    }
    if (st.downsample) {
      st.downsample->conv1.place(p);
      st.downsample->conv2.place(p);
      st.downsample->conv3.place(p);
    }
  }
  neck_conv0_.place(p);
  neck_conv1_.place(p);
  neck_norm0_.place(p);
  neck_norm1_.place(p);
}

Tensor TinyVit::forward(const Tensor& input) const {
  if (input.dim() != 4 || input.size(0) != 1 || input.size(1) != 3 ||
      input.size(2) != cfg_.img_size || input.size(3) != cfg_.img_size) {
    throw Error(StatusCode::kInvalidArgument,
                "TinyVit: input must be [1, 3, " + std::to_string(cfg_.img_size) + ", " +
                    std::to_string(cfg_.img_size) + "], got " + shape_str(input.shape()));
  }
  // Tokens [1, h*w, C] (channels last) from the patch embedding on: the MBConvs' and
  // PatchMergings' 1x1 convs are GEMMs on them and their depthwise convs read them in place, so
  // the grid never goes back to NCHW before the neck.
  const Tensor embedded = embed1_(embed0_.with_act(input, nn::Activation::kGELU));  // 1/4 res.
  int64_t h = embedded.size(2), w = embedded.size(3);
  Tensor x = to_tokens(embedded);
  for (const Stage& st : stages_) {
    for (const MBConv& mb : st.mbconvs) {
      const Tensor y = gelu_depthwise_gelu(mb.conv2, pointwise(mb.conv1, x), h, w);
      x = nn::gelu(pointwise(mb.conv3, y, /*residual=*/x));
    }
    for (const Block& blk : st.blocks) x = blk.forward(x, h, w);
    if (st.downsample) {
      const PatchMerging& pm = *st.downsample;
      // (stride 2 halves h and w, except in the last PatchMerging)
      x = pointwise(pm.conv3, gelu_depthwise_gelu(pm.conv2, pointwise(pm.conv1, x), h, w));
    }
  }
  const Tensor y = to_nchw(x, h, w);
  return neck_norm1_(neck_conv1_(neck_norm0_(neck_conv0_(y))));
}

}  // namespace um::mobilesam
