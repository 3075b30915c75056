// File: tests/dfine/synthetic_checkpoint.h
// Purpose: builds a D-FINE state dict with random weights and the official key names and shapes
// for any HGNetv2 preset / encoder / decoder configuration, so tests can check variants and class
// counts that have no fixture, and corrupt keys on purpose.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace um::dfine::test {

struct StageSpec { int64_t in, mid, out; int blocks; bool downsample, light; int kernel, layers; };

struct SynthSpec {
  int64_t in_channels = 3;
  int64_t stem_mid = 16, stem_out = 16;
  std::vector<StageSpec> stages;
  int first_level_stage = 1;  // stages from here on feed the encoder
  int64_t hidden = 256, ffn = 1024, c4 = 64;
  int depth = 1;
  int decoder_layers = 3, heads = 8;
  std::vector<int> points{3, 6, 3};
  int64_t decoder_ffn = 1024;
  int num_classes = 1;
  uint32_t seed = 7;
};

inline std::vector<StageSpec> hgnetv2_stages(const std::string& preset) {
  if (preset == "B0") return {{16, 16, 64, 1, false, false, 3, 3}, {64, 32, 256, 1, true, false, 3, 3},
                              {256, 64, 512, 2, true, true, 5, 3}, {512, 128, 1024, 1, true, true, 5, 3}};
  // B2
  return {{32, 32, 96, 1, false, false, 3, 4}, {96, 64, 384, 1, true, false, 3, 4},
          {384, 128, 768, 3, true, true, 5, 4}, {768, 256, 1536, 1, true, true, 5, 4}};
}

class SynthBuilder {
 public:
  explicit SynthBuilder(uint32_t seed) : rng_(seed) {}
  io::TensorMap map;

  void uniform(const std::string& key, const Shape& shape, float bound) {
    std::uniform_real_distribution<float> d(-bound, bound);
    Tensor t = Tensor::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng_);
    map[key] = t;
  }
  void fill(const std::string& key, const Shape& shape, float v) { map[key] = Tensor::full(shape, v); }
  void weight(const std::string& key, const Shape& shape) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    uniform(key, shape, 1.f / std::sqrt(static_cast<float>(fan_in)));
  }
  void bn(const std::string& p, int64_t c) {
    std::uniform_real_distribution<float> d(0.8f, 1.2f);
    Tensor g = Tensor::empty({c}), v = Tensor::empty({c});
    for (int64_t i = 0; i < c; ++i) {
      g.data<float>()[i] = d(rng_);
      v.data<float>()[i] = d(rng_);
    }
    map[p + "weight"] = g;
    map[p + "running_var"] = v;
    uniform(p + "bias", {c}, 0.1f);
    uniform(p + "running_mean", {c}, 0.1f);
  }
  void conv_bn(const std::string& p, int64_t cout, int64_t cin_g, int k, const char* bn_name, bool lab) {
    weight(p + "conv.weight", {cout, cin_g, k, k});
    bn(p + bn_name + ".", cout);
    if (lab) {
      fill(p + "lab.scale", {1}, 1.f);
      fill(p + "lab.bias", {1}, 0.f);
    }
  }
  void linear(const std::string& p, int64_t out, int64_t in) {
    weight(p + "weight", {out, in});
    uniform(p + "bias", {out}, 0.05f);
  }
  void ln(const std::string& p, int64_t d) {
    fill(p + "weight", {d}, 1.f);
    fill(p + "bias", {d}, 0.f);
  }

 private:
  std::mt19937 rng_;
};

inline io::TensorMap make_dfine_state_dict(const SynthSpec& s) {
  SynthBuilder b(s.seed);
  const std::string bb = "backbone.";
  b.conv_bn(bb + "stem.stem1.", s.stem_mid, s.in_channels, 3, "bn", true);
  b.conv_bn(bb + "stem.stem2a.", s.stem_mid / 2, s.stem_mid, 2, "bn", true);
  b.conv_bn(bb + "stem.stem2b.", s.stem_mid, s.stem_mid / 2, 2, "bn", true);
  b.conv_bn(bb + "stem.stem3.", s.stem_mid, s.stem_mid * 2, 3, "bn", true);
  b.conv_bn(bb + "stem.stem4.", s.stem_out, s.stem_mid, 1, "bn", true);
  std::vector<int64_t> enc_in;
  for (size_t si = 0; si < s.stages.size(); ++si) {
    const StageSpec& st = s.stages[si];
    const std::string sp = bb + "stages." + std::to_string(si) + ".";
    if (st.downsample) b.conv_bn(sp + "downsample.", st.in, 1, 3, "bn", false);
    for (int bi = 0; bi < st.blocks; ++bi) {
      const std::string bp = sp + "blocks." + std::to_string(bi) + ".";
      int64_t cin = bi == 0 ? st.in : st.out;
      const int64_t total = cin + st.layers * st.mid;
      for (int li = 0; li < st.layers; ++li) {
        const std::string lp = bp + "layers." + std::to_string(li) + ".";
        if (st.light) {
          b.conv_bn(lp + "conv1.", st.mid, cin, 1, "bn", false);
          b.conv_bn(lp + "conv2.", st.mid, 1, st.kernel, "bn", true);
        } else {
          b.conv_bn(lp, st.mid, cin, st.kernel, "bn", true);
        }
        cin = st.mid;
      }
      b.conv_bn(bp + "aggregation.0.", st.out / 2, total, 1, "bn", true);
      b.conv_bn(bp + "aggregation.1.", st.out, st.out / 2, 1, "bn", true);
    }
    if (static_cast<int>(si) >= s.first_level_stage) enc_in.push_back(st.out);
  }
  const int64_t d = s.hidden;
  const size_t nl = enc_in.size();
  const std::string en = "encoder.";
  for (size_t i = 0; i < nl; ++i) b.conv_bn(en + "input_proj." + std::to_string(i) + ".", d, enc_in[i], 1, "norm", false);
  const std::string a = en + "encoder.0.layers.0.";
  b.weight(a + "self_attn.in_proj_weight", {3 * d, d});
  b.uniform(a + "self_attn.in_proj_bias", {3 * d}, 0.05f);
  b.linear(a + "self_attn.out_proj.", d, d);
  b.linear(a + "linear1.", s.ffn, d);
  b.linear(a + "linear2.", d, s.ffn);
  b.ln(a + "norm1.", d);
  b.ln(a + "norm2.", d);
  auto elan = [&](const std::string& p) {
    b.conv_bn(p + "cv1.", 2 * d, 2 * d, 1, "norm", false);
    for (const char* cv : {"cv2.", "cv3."}) {
      const int64_t cin = std::string(cv) == "cv2." ? d : s.c4;
      b.conv_bn(p + cv + "0.conv1.", s.c4, cin, 1, "norm", false);
      b.conv_bn(p + cv + "0.conv2.", s.c4, cin, 1, "norm", false);
      for (int k = 0; k < s.depth; ++k) {
        const std::string bp = p + cv + "0.bottlenecks." + std::to_string(k) + ".";
        b.conv_bn(bp + "conv1.", s.c4, s.c4, 3, "norm", false);
        b.conv_bn(bp + "conv2.", s.c4, s.c4, 1, "norm", false);
      }
      b.conv_bn(p + cv + "1.", s.c4, s.c4, 3, "norm", false);
    }
    b.conv_bn(p + "cv4.", d, 2 * d + 2 * s.c4, 1, "norm", false);
  };
  for (size_t i = 0; i + 1 < nl; ++i) {
    const std::string k = std::to_string(i);
    b.conv_bn(en + "lateral_convs." + k + ".", d, d, 1, "norm", false);
    elan(en + "fpn_blocks." + k + ".");
    b.conv_bn(en + "downsample_convs." + k + ".0.cv1.", d, d, 1, "norm", false);
    b.conv_bn(en + "downsample_convs." + k + ".0.cv2.", d, 1, 3, "norm", false);
    elan(en + "pan_blocks." + k + ".");
  }
  const std::string de = "decoder.";
  b.fill(de + "up", {1}, 0.5f);
  b.fill(de + "reg_scale", {1}, 4.f);
  b.linear(de + "enc_output.proj.", d, d);
  b.ln(de + "enc_output.norm.", d);
  b.linear(de + "enc_score_head.", s.num_classes, d);
  auto mlp = [&](const std::string& p, int n, int64_t in, int64_t hid, int64_t out) {
    for (int i = 0; i < n; ++i) b.linear(p + "layers." + std::to_string(i) + ".", i == n - 1 ? out : hid, i == 0 ? in : hid);
  };
  mlp(de + "enc_bbox_head.", 3, d, d, 4);
  mlp(de + "query_pos_head.", 2, 4, 2 * d, d);
  mlp(de + "pre_bbox_head.", 3, d, d, 4);
  int total_points = 0;
  for (int p : s.points) total_points += p;
  Tensor nps = Tensor::empty({total_points});
  for (int i = 0, k = 0; i < static_cast<int>(s.points.size()); ++i)
    for (int j = 0; j < s.points[i]; ++j) nps.data<float>()[k++] = 1.f / static_cast<float>(s.points[i]);
  for (int l = 0; l < s.decoder_layers; ++l) {
    const std::string k = std::to_string(l);
    b.linear(de + "dec_score_head." + k + ".", s.num_classes, d);
    mlp(de + "dec_bbox_head." + k + ".", 3, d, d, 4 * 33);
    mlp(de + "decoder.lqe_layers." + k + ".reg_conf.", 2, 20, 64, 1);
    const std::string lp = de + "decoder.layers." + k + ".";
    b.weight(lp + "self_attn.in_proj_weight", {3 * d, d});
    b.uniform(lp + "self_attn.in_proj_bias", {3 * d}, 0.05f);
    b.linear(lp + "self_attn.out_proj.", d, d);
    b.ln(lp + "norm1.", d);
    b.map[lp + "cross_attn.num_points_scale"] = nps.clone();
    b.linear(lp + "cross_attn.sampling_offsets.", s.heads * total_points * 2, d);
    b.linear(lp + "cross_attn.attention_weights.", s.heads * total_points, d);
    b.linear(lp + "gateway.gate.", 2 * d, 2 * d);
    b.ln(lp + "gateway.norm.", d);
    b.linear(lp + "linear1.", s.decoder_ffn, d);
    b.linear(lp + "linear2.", d, s.decoder_ffn);
    b.ln(lp + "norm3.", d);
  }
  return b.map;
}

// D-FINE-M layout (HGNetv2-B2, 3 levels, hidden 256, depth 2, expansion 1.0, 4 decoder layers).
inline SynthSpec medium_spec(int num_classes) {
  SynthSpec s;
  s.stem_mid = 24;
  s.stem_out = 32;
  s.stages = hgnetv2_stages("B2");
  s.first_level_stage = 1;
  s.hidden = 256;
  s.ffn = 1024;
  s.c4 = 128;
  s.depth = 2;
  s.decoder_layers = 4;
  s.points = {3, 6, 3};
  s.num_classes = num_classes;
  return s;
}

// A small D-FINE-N-like layout (HGNetv2-B0, 2 levels) with a narrow encoder, for light tests.
inline SynthSpec small_spec(int num_classes, int64_t in_channels = 3) {
  SynthSpec s;
  s.in_channels = in_channels;
  s.stages = hgnetv2_stages("B0");
  s.first_level_stage = 2;
  s.hidden = 64;
  s.ffn = 128;
  s.c4 = 16;
  s.depth = 1;
  s.decoder_layers = 2;
  s.heads = 4;
  s.points = {4, 4};
  s.decoder_ffn = 128;
  s.num_classes = num_classes;
  return s;
}

}  // namespace um::dfine::test
