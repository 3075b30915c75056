// File: src/models/mobilesam/layers.cpp
// Purpose: loaders of the shared MobileSAM weight bundles (see layers.h).
#include "models/mobilesam/layers.h"

namespace um::mobilesam {

Tensor placed(const Tensor& t, const Placement& p) {
  if (!t.defined()) return t;
  // Convert on the host (round to nearest even, as the GPU would), then one synchronous copy.
  return t.to(p.dtype).to(p.device);
}

void Linear::place(const Placement& p) {
  weight = placed(weight, p);
  bias = placed(bias, p);
}
void LayerNorm::place(const Placement& p) {
  weight = placed(weight, p);
  bias = placed(bias, p);
}
void LayerNorm2d::place(const Placement& p) {
  weight = placed(weight, p);
  bias = placed(bias, p);
}
void Conv::place(const Placement& p) {
  weight = placed(weight, p);
  bias = placed(bias, p);
}
void Mlp::place(const Placement& p) {
  for (Linear& l : layers) l.place(p);
}

Linear load_linear(const io::WeightSource& w, const std::string& name, int64_t out, int64_t in,
                   bool has_bias) {
  Linear l;
  l.weight = w.get(name + ".weight", {out, in});
  if (has_bias) l.bias = w.get(name + ".bias", {out});
  return l;
}

LayerNorm load_layer_norm(const io::WeightSource& w, const std::string& name, int64_t dim,
                          float eps) {
  return {w.get(name + ".weight", {dim}), w.get(name + ".bias", {dim}), eps};
}

LayerNorm2d load_layer_norm_2d(const io::WeightSource& w, const std::string& name, int64_t dim) {
  return {w.get(name + ".weight", {dim}), w.get(name + ".bias", {dim}), 1e-6f};
}

Conv load_conv(const io::WeightSource& w, const std::string& name, int64_t cout, int64_t cin,
               int k, int stride, int pad, bool has_bias, int groups) {
  Conv c;
  c.weight = w.get(name + ".weight", {cout, cin / groups, k, k});
  if (has_bias) c.bias = w.get(name + ".bias", {cout});
  c.params = nn::Conv2dParams::square(stride, pad, groups);
  return c;
}

Conv load_conv_bn(const io::WeightSource& w, const std::string& name, int64_t cout, int64_t cin,
                  int k, int stride, int pad, int groups) {
  const Tensor weight = w.get(name + ".c.weight", {cout, cin / groups, k, k});
  const std::string bn = name + ".bn.";
  auto [fw, fb] = nn::fold_batch_norm(weight, Tensor(), w.get(bn + "weight", {cout}),
                                      w.get(bn + "bias", {cout}), w.get(bn + "running_mean", {cout}),
                                      w.get(bn + "running_var", {cout}), 1e-5f);
  Conv c;
  c.weight = std::move(fw);
  c.bias = std::move(fb);
  c.params = nn::Conv2dParams::square(stride, pad, groups);
  return c;
}

Tensor Mlp::operator()(const Tensor& x) const {
  Tensor y = x;
  for (size_t i = 0; i < layers.size(); ++i) {
    y = layers[i](y);
    if (i + 1 < layers.size()) y = nn::relu(y);
  }
  return y;
}

Mlp load_mlp(const io::WeightSource& w, const std::string& name, int64_t in, int64_t hidden,
             int64_t out, int num_layers) {
  Mlp m;
  for (int i = 0; i < num_layers; ++i) {
    const int64_t li = i == 0 ? in : hidden;
    const int64_t lo = i == num_layers - 1 ? out : hidden;
    m.layers.push_back(load_linear(w, name + ".layers." + std::to_string(i), lo, li));
  }
  return m;
}

void GroupedMlp::place(const Placement& p) {
  for (Tensor& w : weights) w = placed(w, p);
  for (Tensor& b : biases) b = placed(b, p);
}

GroupedMlp group_mlps(const std::vector<Mlp>& mlps) {
  GroupedMlp g;
  if (mlps.empty()) return g;
  for (size_t i = 0; i < mlps.front().layers.size(); ++i) {
    std::vector<Tensor> ws, bs;
    for (const Mlp& m : mlps) {
      ws.push_back(m.layers.at(i).weight.unsqueeze(0));
      bs.push_back(m.layers.at(i).bias.unsqueeze(0));
    }
    g.weights.push_back(nn::concat(ws, 0));
    g.biases.push_back(nn::concat(bs, 0));
  }
  return g;
}

}  // namespace um::mobilesam
