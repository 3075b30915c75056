// File: src/pipeline/synthetic_weights.cpp
// Purpose: seeded synthetic state dicts for D-FINE-N and MobileSAM vit_t (synthetic_weights.h).
// Keys and shapes follow the official modules (D-FINE's HGNetv2/HybridEncoder/DFINETransformer,
// MobileSAM's TinyViT/PromptEncoder/MaskDecoder); tests/pipeline/synthetic_weights_test.cpp
// checks them against the real phantom checkpoints when those are present.
#include "pipeline/synthetic_weights.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace um::pipeline {
namespace {

// Fills a TensorMap from one seeded generator, in a fixed call order (so a seed gives the same
// weights on every platform that implements mt19937 and the distributions the same way; the
// values only need to be finite and reproducible within one build).
class Builder {
 public:
  explicit Builder(uint32_t seed) : rng_(seed) {}
  io::TensorMap map;

  void uniform(const std::string& key, const Shape& shape, float bound) {
    std::uniform_real_distribution<float> d(-bound, bound);
    Tensor t = Tensor::empty(shape);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = d(rng_);
    map[key] = t;
  }
  void normal(const std::string& key, const Shape& shape, float stddev) {
    std::normal_distribution<float> d(0.f, stddev);
    Tensor t = Tensor::empty(shape);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = d(rng_);
    map[key] = t;
  }
  void fill(const std::string& key, const Shape& shape, float v) { map[key] = Tensor::full(shape, v); }
  // PyTorch's default conv/linear scale: uniform(+-1/sqrt(fan_in)), fan_in = prod(shape[1:]).
  void weight(const std::string& key, const Shape& shape) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    uniform(key, shape, 1.f / std::sqrt(static_cast<float>(fan_in)));
  }
  void bn(const std::string& p, int64_t c) {
    fill(p + "weight", {c}, 1.f);
    fill(p + "bias", {c}, 0.f);
    fill(p + "running_mean", {c}, 0.f);
    fill(p + "running_var", {c}, 1.f);
    map[p + "num_batches_tracked"] = Tensor::zeros({}, DType::kI64);
  }
  void linear(const std::string& p, int64_t out, int64_t in) {
    weight(p + "weight", {out, in});
    fill(p + "bias", {out}, 0.f);
  }
  void norm(const std::string& p, int64_t d) {  // LayerNorm / LayerNorm2d
    fill(p + "weight", {d}, 1.f);
    fill(p + "bias", {d}, 0.f);
  }
  void mlp(const std::string& p, int n, int64_t in, int64_t hid, int64_t out) {
    for (int i = 0; i < n; ++i) {
      linear(p + "layers." + std::to_string(i) + ".", i == n - 1 ? out : hid, i == 0 ? in : hid);
    }
  }

 private:
  std::mt19937 rng_;
};

// ---- D-FINE-N (configs/dfine/dfine_hgnetv2_n_coco.yml with num_classes 1) ----

struct Stage { int64_t in, mid, out; int blocks; bool downsample, light; int kernel; };
constexpr int kHgLayers = 3;                        // HGNetv2-B0: 3 layers per HG block
constexpr Stage kB0Stages[] = {{16, 16, 64, 1, false, false, 3}, {64, 32, 256, 1, true, false, 3},
                               {256, 64, 512, 2, true, true, 5}, {512, 128, 1024, 1, true, true, 5}};
constexpr int kFirstLevelStage = 2;                 // return_idx [2, 3]
constexpr int64_t kHidden = 128, kEncoderFfn = 512;
constexpr int64_t kElanC4 = 21;                     // round(expansion 0.34 * hidden / 2) as trained
constexpr int kElanDepth = 2;                       // round(3 * depth_mult 0.5)
constexpr int kDecoderLayers = 3, kDecoderHeads = 8, kRegMax = 32;
constexpr int kPointsPerLevel = 6, kLevels = 2;
constexpr int64_t kDecoderFfn = 512;
constexpr int kNumClasses = 1;

void conv_bn(Builder& b, const std::string& p, int64_t cout, int64_t cin_g, int k,
             const char* bn_name, bool lab) {
  b.weight(p + "conv.weight", {cout, cin_g, k, k});
  b.bn(p + bn_name + ".", cout);
  if (lab) {
    b.fill(p + "lab.scale", {1}, 1.f);
    b.fill(p + "lab.bias", {1}, 0.f);
  }
}

void dfine_backbone(Builder& b, std::vector<int64_t>* level_channels) {
  const std::string bb = "backbone.";
  conv_bn(b, bb + "stem.stem1.", 16, 3, 3, "bn", true);
  conv_bn(b, bb + "stem.stem2a.", 8, 16, 2, "bn", true);
  conv_bn(b, bb + "stem.stem2b.", 16, 8, 2, "bn", true);
  conv_bn(b, bb + "stem.stem3.", 16, 32, 3, "bn", true);
  conv_bn(b, bb + "stem.stem4.", 16, 16, 1, "bn", true);
  for (int si = 0; si < 4; ++si) {
    const Stage& st = kB0Stages[si];
    const std::string sp = bb + "stages." + std::to_string(si) + ".";
    if (st.downsample) conv_bn(b, sp + "downsample.", st.in, 1, 3, "bn", false);
    for (int bi = 0; bi < st.blocks; ++bi) {
      const std::string bp = sp + "blocks." + std::to_string(bi) + ".";
      int64_t cin = bi == 0 ? st.in : st.out;
      const int64_t total = cin + kHgLayers * st.mid;
      for (int li = 0; li < kHgLayers; ++li) {
        const std::string lp = bp + "layers." + std::to_string(li) + ".";
        if (st.light) {
          conv_bn(b, lp + "conv1.", st.mid, cin, 1, "bn", false);
          conv_bn(b, lp + "conv2.", st.mid, 1, st.kernel, "bn", true);
        } else {
          conv_bn(b, lp, st.mid, cin, st.kernel, "bn", true);
        }
        cin = st.mid;
      }
      conv_bn(b, bp + "aggregation.0.", st.out / 2, total, 1, "bn", true);
      conv_bn(b, bp + "aggregation.1.", st.out, st.out / 2, 1, "bn", true);
    }
    if (si >= kFirstLevelStage) level_channels->push_back(st.out);
  }
}

void dfine_encoder(Builder& b, const std::vector<int64_t>& level_channels) {
  const int64_t d = kHidden;
  const std::string en = "encoder.";
  for (size_t i = 0; i < level_channels.size(); ++i) {
    conv_bn(b, en + "input_proj." + std::to_string(i) + ".", d, level_channels[i], 1, "norm", false);
  }
  const std::string a = en + "encoder.0.layers.0.";
  b.weight(a + "self_attn.in_proj_weight", {3 * d, d});
  b.fill(a + "self_attn.in_proj_bias", {3 * d}, 0.f);
  b.linear(a + "self_attn.out_proj.", d, d);
  b.linear(a + "linear1.", kEncoderFfn, d);
  b.linear(a + "linear2.", d, kEncoderFfn);
  b.norm(a + "norm1.", d);
  b.norm(a + "norm2.", d);
  auto elan = [&](const std::string& p) {  // RepNCSPELAN4(2d, d, 2d, c4, depth)
    conv_bn(b, p + "cv1.", 2 * d, 2 * d, 1, "norm", false);
    for (const std::string& cv : {std::string("cv2."), std::string("cv3.")}) {
      const int64_t cin = cv == "cv2." ? d : kElanC4;
      conv_bn(b, p + cv + "0.conv1.", kElanC4, cin, 1, "norm", false);
      conv_bn(b, p + cv + "0.conv2.", kElanC4, cin, 1, "norm", false);
      for (int k = 0; k < kElanDepth; ++k) {
        const std::string bp = p + cv + "0.bottlenecks." + std::to_string(k) + ".";
        conv_bn(b, bp + "conv1.", kElanC4, kElanC4, 3, "norm", false);
        conv_bn(b, bp + "conv2.", kElanC4, kElanC4, 1, "norm", false);
      }
      conv_bn(b, p + cv + "1.", kElanC4, kElanC4, 3, "norm", false);
    }
    conv_bn(b, p + "cv4.", d, 2 * d + 2 * kElanC4, 1, "norm", false);
  };
  for (size_t i = 0; i + 1 < level_channels.size(); ++i) {
    const std::string k = std::to_string(i);
    conv_bn(b, en + "lateral_convs." + k + ".", d, d, 1, "norm", false);
    elan(en + "fpn_blocks." + k + ".");
    conv_bn(b, en + "downsample_convs." + k + ".0.cv1.", d, d, 1, "norm", false);
    conv_bn(b, en + "downsample_convs." + k + ".0.cv2.", d, 1, 3, "norm", false);
    elan(en + "pan_blocks." + k + ".");
  }
}

void dfine_decoder(Builder& b) {
  const int64_t d = kHidden;
  const std::string de = "decoder.";
  // Official defaults of DFINETransformer: up 0.5, reg_scale 4 (also mirrored in decoder.decoder).
  for (const std::string& p : {de, de + "decoder."}) {
    b.fill(p + "up", {1}, 0.5f);
    b.fill(p + "reg_scale", {1}, 4.f);
  }
  // Training-only (contrastive denoising queries), kept so the layout is the checkpoint's.
  b.normal(de + "denoising_class_embed.weight", {kNumClasses + 1, d}, 1.f);
  b.linear(de + "enc_output.proj.", d, d);
  b.norm(de + "enc_output.norm.", d);
  b.linear(de + "enc_score_head.", kNumClasses, d);
  b.mlp(de + "enc_bbox_head.", 3, d, d, 4);
  b.mlp(de + "query_pos_head.", 2, 4, 2 * d, d);
  b.mlp(de + "pre_bbox_head.", 3, d, d, 4);
  constexpr int kPoints = kPointsPerLevel * kLevels;
  for (int l = 0; l < kDecoderLayers; ++l) {
    const std::string k = std::to_string(l);
    b.linear(de + "dec_score_head." + k + ".", kNumClasses, d);
    b.mlp(de + "dec_bbox_head." + k + ".", 3, d, d, 4 * (kRegMax + 1));
    b.mlp(de + "decoder.lqe_layers." + k + ".reg_conf.", 2, 4 * (4 + 1), 64, 1);
    const std::string lp = de + "decoder.layers." + k + ".";
    b.weight(lp + "self_attn.in_proj_weight", {3 * d, d});
    b.fill(lp + "self_attn.in_proj_bias", {3 * d}, 0.f);
    b.linear(lp + "self_attn.out_proj.", d, d);
    b.norm(lp + "norm1.", d);
    b.fill(lp + "cross_attn.num_points_scale", {kPoints}, 1.f / kPointsPerLevel);
    b.linear(lp + "cross_attn.sampling_offsets.", kDecoderHeads * kPoints * 2, d);
    b.linear(lp + "cross_attn.attention_weights.", kDecoderHeads * kPoints, d);
    b.linear(lp + "gateway.gate.", 2 * d, 2 * d);
    b.norm(lp + "gateway.norm.", d);
    b.linear(lp + "linear1.", kDecoderFfn, d);
    b.linear(lp + "linear2.", d, kDecoderFfn);
    b.norm(lp + "norm3.", d);
  }
}

// ---- MobileSAM vit_t (TinyViT-5M image encoder, SAM prompt encoder and mask decoder) ----

constexpr int64_t kVitDims[] = {64, 128, 160, 320};
constexpr int kVitDepths[] = {2, 2, 6, 2};
constexpr int kVitHeads[] = {2, 4, 5, 10};
constexpr int kVitWindows[] = {7, 7, 14, 7};
constexpr int kMlpRatio = 4, kMbConvExpand = 4;
constexpr int64_t kPromptDim = 256, kDecoderMlp = 2048, kNumMaskTokens = 4;

void conv2d_bn(Builder& b, const std::string& p, int64_t cout, int64_t cin_g, int k) {
  b.weight(p + "c.weight", {cout, cin_g, k, k});
  b.bn(p + "bn.", cout);
}

void tiny_vit(Builder& b) {
  const std::string ie = "image_encoder.";
  conv2d_bn(b, ie + "patch_embed.seq.0.", kVitDims[0] / 2, 3, 3);
  conv2d_bn(b, ie + "patch_embed.seq.2.", kVitDims[0], kVitDims[0] / 2, 3);
  for (int li = 0; li < 4; ++li) {
    const int64_t dim = kVitDims[li];
    const std::string lp = ie + "layers." + std::to_string(li) + ".";
    for (int bi = 0; bi < kVitDepths[li]; ++bi) {
      const std::string bp = lp + "blocks." + std::to_string(bi) + ".";
      if (li == 0) {  // ConvLayer of MBConv blocks
        const int64_t hid = dim * kMbConvExpand;
        conv2d_bn(b, bp + "conv1.", hid, dim, 1);
        conv2d_bn(b, bp + "conv2.", hid, 1, 3);
        conv2d_bn(b, bp + "conv3.", dim, hid, 1);
        continue;
      }
      // TinyViTBlock: key_dim = dim / heads, attn_ratio 1 -> qkv 3 * dim.
      b.norm(bp + "attn.norm.", dim);
      b.linear(bp + "attn.qkv.", 3 * dim, dim);
      b.linear(bp + "attn.proj.", dim, dim);
      b.fill(bp + "attn.attention_biases", {kVitHeads[li], kVitWindows[li] * kVitWindows[li]}, 0.f);
      conv2d_bn(b, bp + "local_conv.", dim, 1, 3);
      b.norm(bp + "mlp.norm.", dim);
      b.linear(bp + "mlp.fc1.", dim * kMlpRatio, dim);
      b.linear(bp + "mlp.fc2.", dim, dim * kMlpRatio);
    }
    if (li < 3) {  // PatchMerging to the next stage's width
      const int64_t out = kVitDims[li + 1];
      conv2d_bn(b, lp + "downsample.conv1.", out, dim, 1);
      conv2d_bn(b, lp + "downsample.conv2.", out, 1, 3);
      conv2d_bn(b, lp + "downsample.conv3.", out, out, 1);
    }
  }
  // Classification head: unused by SAM but present in every vit_t checkpoint.
  b.norm(ie + "norm_head.", kVitDims[3]);
  b.linear(ie + "head.", 1000, kVitDims[3]);
  b.weight(ie + "neck.0.weight", {kPromptDim, kVitDims[3], 1, 1});
  b.norm(ie + "neck.1.", kPromptDim);
  b.weight(ie + "neck.2.weight", {kPromptDim, kPromptDim, 3, 3});
  b.norm(ie + "neck.3.", kPromptDim);
}

void prompt_encoder(Builder& b) {
  const std::string pe = "prompt_encoder.";
  b.normal(pe + "pe_layer.positional_encoding_gaussian_matrix", {2, kPromptDim / 2}, 1.f);
  for (int i = 0; i < 4; ++i) {
    b.normal(pe + "point_embeddings." + std::to_string(i) + ".weight", {1, kPromptDim}, 1.f);
  }
  b.normal(pe + "not_a_point_embed.weight", {1, kPromptDim}, 1.f);
  b.normal(pe + "no_mask_embed.weight", {1, kPromptDim}, 1.f);
  const std::string md = pe + "mask_downscaling.";
  b.weight(md + "0.weight", {4, 1, 2, 2});
  b.fill(md + "0.bias", {4}, 0.f);
  b.norm(md + "1.", 4);
  b.weight(md + "3.weight", {16, 4, 2, 2});
  b.fill(md + "3.bias", {16}, 0.f);
  b.norm(md + "4.", 16);
  b.weight(md + "6.weight", {kPromptDim, 16, 1, 1});
  b.fill(md + "6.bias", {kPromptDim}, 0.f);
}

void attention(Builder& b, const std::string& p, int64_t internal) {
  for (const char* proj : {"q_proj.", "k_proj.", "v_proj."}) b.linear(p + proj, internal, kPromptDim);
  b.linear(p + "out_proj.", kPromptDim, internal);
}

void mask_decoder(Builder& b) {
  const std::string md = "mask_decoder.";
  const std::string tr = md + "transformer.";
  const int64_t cross = kPromptDim / 2;  // attention_downsample_rate 2
  for (int l = 0; l < 2; ++l) {
    const std::string lp = tr + "layers." + std::to_string(l) + ".";
    attention(b, lp + "self_attn.", kPromptDim);
    attention(b, lp + "cross_attn_token_to_image.", cross);
    attention(b, lp + "cross_attn_image_to_token.", cross);
    b.linear(lp + "mlp.lin1.", kDecoderMlp, kPromptDim);
    b.linear(lp + "mlp.lin2.", kPromptDim, kDecoderMlp);
    for (const char* n : {"norm1.", "norm2.", "norm3.", "norm4."}) b.norm(lp + n, kPromptDim);
  }
  attention(b, tr + "final_attn_token_to_image.", cross);
  b.norm(tr + "norm_final_attn.", kPromptDim);
  b.normal(md + "iou_token.weight", {1, kPromptDim}, 1.f);
  b.normal(md + "mask_tokens.weight", {kNumMaskTokens, kPromptDim}, 1.f);
  // ConvTranspose2d weights are [in, out, k, k]; fan_in for the scale is out * k * k as in PyTorch.
  b.weight(md + "output_upscaling.0.weight", {kPromptDim, kPromptDim / 4, 2, 2});
  b.fill(md + "output_upscaling.0.bias", {kPromptDim / 4}, 0.f);
  b.norm(md + "output_upscaling.1.", kPromptDim / 4);
  b.weight(md + "output_upscaling.3.weight", {kPromptDim / 4, kPromptDim / 8, 2, 2});
  b.fill(md + "output_upscaling.3.bias", {kPromptDim / 8}, 0.f);
  for (int i = 0; i < kNumMaskTokens; ++i) {
    b.mlp(md + "output_hypernetworks_mlps." + std::to_string(i) + ".", 3, kPromptDim, kPromptDim,
          kPromptDim / 8);
  }
  b.mlp(md + "iou_prediction_head.", 3, kPromptDim, kPromptDim, kNumMaskTokens);
}

}  // namespace

io::TensorMap synthetic_dfine_n_weights(uint32_t seed) {
  Builder b(seed);
  std::vector<int64_t> levels;
  dfine_backbone(b, &levels);
  dfine_encoder(b, levels);
  dfine_decoder(b);
  return std::move(b.map);
}

io::TensorMap synthetic_mobilesam_vit_t_weights(uint32_t seed) {
  Builder b(seed);
  tiny_vit(b);
  prompt_encoder(b);
  mask_decoder(b);
  return std::move(b.map);
}

}  // namespace um::pipeline
