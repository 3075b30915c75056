// File: src/models/dfine/config.cpp
// Purpose: variant names, parsing and classification; see config.h.
#include "models/dfine/config.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace um::dfine {

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::kAuto: return "auto";
    case Variant::kN: return "n";
    case Variant::kS: return "s";
    case Variant::kM: return "m";
    case Variant::kL: return "l";
    case Variant::kX: return "x";
    case Variant::kCustom: return "custom";
  }
  return "custom";
}

Result<Variant> parse_variant(const std::string& s_in) {
  std::string s = s_in;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "auto") return Variant::kAuto;
  if (s == "n") return Variant::kN;
  if (s == "s") return Variant::kS;
  if (s == "m") return Variant::kM;
  if (s == "l") return Variant::kL;
  if (s == "x") return Variant::kX;
  return invalid_argument("unknown D-FINE variant '" + s_in + "' (expected auto, n, s, m, l or x)");
}

Result<ResizeMode> parse_resize_mode(const std::string& s) {
  if (s == "stretch") return ResizeMode::kStretch;
  if (s == "letterbox") return ResizeMode::kLetterbox;
  return invalid_argument("unknown resize mode '" + s + "' (expected stretch or letterbox)");
}

std::string classify_backbone(int64_t stem_mid, int64_t stem_out, int layers_per_block) {
  struct Preset { const char* name; int64_t mid, out; int layers; };
  static const Preset kPresets[] = {{"B0", 16, 16, 3}, {"B1", 24, 32, 3}, {"B2", 24, 32, 4},
                                    {"B3", 24, 32, 5}, {"B4", 32, 48, 6}, {"B5", 32, 64, 6},
                                    {"B6", 48, 96, 6}};
  for (const auto& p : kPresets) {
    if (p.mid == stem_mid && p.out == stem_out && p.layers == layers_per_block) return p.name;
  }
  return "custom";
}

Variant classify_variant(const std::string& backbone, size_t levels, int64_t hidden_dim) {
  if (backbone == "B0" && levels == 2 && hidden_dim == 128) return Variant::kN;
  if (levels != 3) return Variant::kCustom;
  if (backbone == "B0" && hidden_dim == 256) return Variant::kS;
  if (backbone == "B2" && hidden_dim == 256) return Variant::kM;
  if (backbone == "B4" && hidden_dim == 256) return Variant::kL;
  if (backbone == "B5" && hidden_dim == 384) return Variant::kX;
  return Variant::kCustom;
}

std::string Config::summary() const {
  std::ostringstream o;
  auto list = [&](const auto& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
  };
  o << "D-FINE-" << variant_name(variant) << " (HGNetv2-" << backbone << ", " << num_classes
    << " classes, " << input_channels << "-channel stem, levels " << list(return_idx)
    << " strides " << list(feat_strides) << ", hidden " << hidden_dim << ", ffn " << dim_feedforward
    << ", depth " << encoder_depth << ", decoder " << decoder_layers << " layers x "
    << decoder_heads << " heads, points " << list(num_points) << ", reg_max " << reg_max << ")";
  return o.str();
}

}  // namespace um::dfine
