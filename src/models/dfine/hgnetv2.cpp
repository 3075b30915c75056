// File: src/models/dfine/hgnetv2.cpp
// Purpose: HGNetv2 backbone loading (shape-driven) and forward pass; see hgnetv2.h.
#include "models/dfine/hgnetv2.h"

#include <algorithm>

#include "core/status.h"
#include "nn/ops_dfine.h"

namespace um::dfine {
namespace {

// F.pad(x, (0, 1, 0, 1)): one zero column on the right and one zero row at the bottom.
Tensor pad_right_bottom(const Tensor& x) { return nn::pad2d(x, 0, 1, 0, 1, 0.f); }

// ConvBNAct with 'same'-style padding (k - 1) / 2 as the official ConvBNAct.
ConvBN conv_bn_act(const io::WeightSource& w, int stride, int groups, bool act, bool lab) {
  const Shape s = w.shape_of("conv.weight");
  if (s.size() != 4) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "conv.weight': expected a 4-D "
                                              "conv weight, checkpoint has " + shape_str(s));
  }
  const int pad = static_cast<int>((s[2] - 1) / 2);
  return ConvBN::load(w, "bn", {}, stride, pad, groups, act ? Act::kReLU : Act::kNone, act && lab);
}

void require_channels(const ConvBN& c, int64_t expected, const std::string& key) {
  if (c.in_channels() != expected) {
    throw Error(StatusCode::kInvalidArgument,
                "key '" + key + "': expects " + std::to_string(c.in_channels()) +
                    " input channels but the previous layer gives " + std::to_string(expected) +
                    " (weight " + shape_str(c.weight.shape()) + ")");
  }
}

}  // namespace

HGNetv2 HGNetv2::load(const io::WeightSource& w) {
  HGNetv2 b;
  const bool lab = w.has("stem.stem1.lab.scale");
  const io::WeightSource st = w.sub("stem.");
  b.stem1_ = conv_bn_act(st.sub("stem1."), 2, 1, true, lab);
  b.stem2a_ = conv_bn_act(st.sub("stem2a."), 1, 1, true, lab);
  b.stem2b_ = conv_bn_act(st.sub("stem2b."), 1, 1, true, lab);
  b.stem3_ = conv_bn_act(st.sub("stem3."), 2, 1, true, lab);
  b.stem4_ = conv_bn_act(st.sub("stem4."), 1, 1, true, lab);
  // stem2a/2b have kernel 2 and no padding in the official code (padding = (2 - 1) // 2 = 0).
  const int64_t mid = b.stem1_.out_channels();
  require_channels(b.stem2a_, mid, st.prefix() + "stem2a.conv.weight");
  require_channels(b.stem2b_, b.stem2a_.out_channels(), st.prefix() + "stem2b.conv.weight");
  require_channels(b.stem3_, mid + b.stem2b_.out_channels(), st.prefix() + "stem3.conv.weight");
  require_channels(b.stem4_, b.stem3_.out_channels(), st.prefix() + "stem4.conv.weight");
  // Gray input on an RGB stem: the conv of gray replicated to C channels equals the conv of the
  // gray channel with the weights summed over input channels (sum, not mean).
  b.stem1_gray_ = b.stem1_;
  if (b.stem1_.weight.size(1) > 1) {
    const Tensor& wt = b.stem1_.weight;
    const int64_t co = wt.size(0), ci = wt.size(1), k = wt.size(2) * wt.size(3);
    Tensor g = Tensor::zeros({co, 1, wt.size(2), wt.size(3)});
    for (int64_t o = 0; o < co; ++o)
      for (int64_t c = 0; c < ci; ++c)
        for (int64_t i = 0; i < k; ++i) g.data<float>()[o * k + i] += wt.data<float>()[(o * ci + c) * k + i];
    b.stem1_gray_.weight = g;
  }

  int64_t ch = b.stem4_.out_channels();
  int stride = 4;
  const int num_stages = count_indexed(w, "stages.", ".blocks.0.aggregation.0.conv.weight");
  if (num_stages == 0) {
    throw Error(StatusCode::kNotFound, "missing key '" + w.prefix() +
                                           "stages.0.blocks.0.aggregation.0.conv.weight' (no "
                                           "HGNetv2 stages in the checkpoint)");
  }
  for (int s = 0; s < num_stages; ++s) {
    const io::WeightSource sw = w.sub("stages." + std::to_string(s) + ".");
    Stage stage;
    stage.has_downsample = sw.has("downsample.conv.weight");
    if (stage.has_downsample) {
      // Depthwise 3x3 stride 2, BN, no activation (use_act=False, so no affine either).
      stage.downsample = ConvBN::load(sw.sub("downsample."), "bn", {ch, 1, 3, 3}, 2, 1,
                                      static_cast<int>(ch), Act::kNone, false);
      stride *= 2;
    }
    const int nblocks = count_indexed(sw, "blocks.", ".aggregation.0.conv.weight");
    for (int bi = 0; bi < nblocks; ++bi) {
      const io::WeightSource bw = sw.sub("blocks." + std::to_string(bi) + ".");
      Block block;
      block.residual = bi > 0;
      const bool light = bw.has("layers.0.conv1.conv.weight");
      const int nlayers = count_indexed(bw, "layers.", light ? ".conv1.conv.weight" : ".conv.weight");
      int64_t lin = ch, total = ch;
      for (int li = 0; li < nlayers; ++li) {
        const io::WeightSource lw = bw.sub("layers." + std::to_string(li) + ".");
        Layer layer;
        layer.light = light;
        if (light) {
          layer.conv1 = conv_bn_act(lw.sub("conv1."), 1, 1, false, lab);
          const int64_t mid_ch = layer.conv1.out_channels();
          layer.conv2 = conv_bn_act(lw.sub("conv2."), 1, static_cast<int>(mid_ch), true, lab);
          require_channels(layer.conv1, lin, lw.prefix() + "conv1.conv.weight");
          require_channels(layer.conv2, mid_ch, lw.prefix() + "conv2.conv.weight");
          lin = layer.conv2.out_channels();
        } else {
          layer.conv = conv_bn_act(lw, 1, 1, true, lab);
          require_channels(layer.conv, lin, lw.prefix() + "conv.weight");
          lin = layer.conv.out_channels();
        }
        total += lin;
        block.layers.push_back(std::move(layer));
      }
      block.agg_squeeze = conv_bn_act(bw.sub("aggregation.0."), 1, 1, true, lab);
      block.agg_excite = conv_bn_act(bw.sub("aggregation.1."), 1, 1, true, lab);
      require_channels(block.agg_squeeze, total, bw.prefix() + "aggregation.0.conv.weight");
      require_channels(block.agg_excite, block.agg_squeeze.out_channels(),
                       bw.prefix() + "aggregation.1.conv.weight");
      const int64_t out = block.agg_excite.out_channels();
      if (block.residual && out != ch) {
        throw Error(StatusCode::kInvalidArgument, "key '" + bw.prefix() +
                                                      "aggregation.1.conv.weight': residual block "
                                                      "changes channels " + std::to_string(ch) +
                                                      " -> " + std::to_string(out));
      }
      ch = out;
      stage.blocks.push_back(std::move(block));
    }
    b.stages_.push_back(std::move(stage));
    b.stage_out_.push_back(ch);
    b.stage_stride_.push_back(stride);
  }
  return b;
}

void HGNetv2::place(const Placement& placement, int tf32_parts) {
  // Part 0 is the stem, part i the i-th stage.
  auto part = [&](int i) {
    Placement q = placement;
    q.tf32 = placement.tf32 && i < tf32_parts;
    return q;
  };
  Placement p = part(0);
  for (ConvBN* c : {&stem1_, &stem1_gray_, &stem2a_, &stem2b_, &stem3_, &stem4_}) c->place(p);
  for (size_t i = 0; i < stages_.size(); ++i) {
    Stage& s = stages_[i];
    p = part(static_cast<int>(i) + 1);
    if (s.has_downsample) s.downsample.place(p);
    for (Block& b : s.blocks) {
      for (Layer& l : b.layers) {
        if (l.light) {
          l.conv1.place(p);
          l.conv2.place(p);
        } else {
          l.conv.place(p);
        }
      }
      b.agg_squeeze.place(p);
      b.agg_excite.place(p);
    }
  }
}

std::vector<int> HGNetv2::blocks_per_stage() const {
  std::vector<int> n;
  for (const auto& s : stages_) n.push_back(static_cast<int>(s.blocks.size()));
  return n;
}

int HGNetv2::layers_per_block() const {
  return stages_.empty() || stages_[0].blocks.empty()
             ? 0
             : static_cast<int>(stages_[0].blocks[0].layers.size());
}

Tensor HGNetv2::stem(const Tensor& x) const {
  const int64_t cin = x.size(1);
  Tensor y;
  if (cin == stem1_.in_channels()) {
    y = stem1_(x);
  } else if (cin == 1) {
    y = stem1_gray_(x);
  } else {
    throw Error(StatusCode::kInvalidArgument,
                "D-FINE backbone: input " + shape_str(x.shape()) + " has " + std::to_string(cin) +
                    " channels but the stem takes " + std::to_string(stem1_.in_channels()) +
                    " (or 1, gray)");
  }
  y = pad_right_bottom(y);
  Tensor x2 = pad_right_bottom(stem2a_(y));
  x2 = stem2b_(x2);
  Tensor x1 = nn::max_pool2d(y, 2, 1, 0, true);
  return stem4_(stem3_(nn::concat({x1, x2}, 1)));
}

std::vector<Tensor> HGNetv2::forward(const Tensor& x) const {
  if (x.dim() != 4) {
    throw Error(StatusCode::kInvalidArgument,
                "D-FINE backbone: input must be [N, C, H, W], got " + shape_str(x.shape()));
  }
  Tensor h = stem(x);
  std::vector<Tensor> outs;
  for (const Stage& s : stages_) {
    if (s.has_downsample) h = s.downsample(h);
    for (const Block& b : s.blocks) {
      std::vector<Tensor> cat{h};
      Tensor t = h;
      for (const Layer& l : b.layers) {
        t = l(t);
        cat.push_back(t);
      }
      // The residual add rides in agg_excite's epilogue on the GPU (conv2d_bias_act_residual;
      // on the CPU the same conv, activation, affine, then add).
      const Tensor squeezed = b.agg_squeeze(nn::concat(cat, 1));
      h = b.residual ? b.agg_excite(squeezed, h) : b.agg_excite(squeezed);
    }
    outs.push_back(h);
  }
  return outs;
}

}  // namespace um::dfine
