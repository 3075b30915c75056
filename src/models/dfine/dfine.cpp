// File: src/models/dfine/dfine.cpp
// Purpose: the D-FINE facade: loading with shape-driven configuration, forward and detect.
#include "models/dfine/dfine.h"

#include <spdlog/spdlog.h>

#include "nn/ops_dfine.h"

namespace um::dfine {
namespace {

constexpr const char* kStemKey = "backbone.stem.stem1.conv.weight";

// Finds the prefix under which the D-FINE keys live ("" normally; e.g. "model." when a wrapper
// the reader did not know was left in place).
Result<std::string> find_prefix(const io::TensorMap& tensors) {
  if (tensors.count(kStemKey)) return std::string();
  const std::string suffix = kStemKey;
  for (const auto& [key, t] : tensors) {
    if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return key.substr(0, key.size() - suffix.size());
    }
  }
  return not_found("missing key '" + suffix + "': not a D-FINE checkpoint (" +
                   std::to_string(tensors.size()) + " tensors, none under backbone.stem)");
}

}  // namespace

Result<std::unique_ptr<DFine>> DFine::load(const std::string& path, const Options& options) {
  auto ck = io::load_checkpoint(path);
  if (!ck.ok()) return ck.status().with_context("loading D-FINE checkpoint " + path);
  auto model = from_tensors(ck->tensors, options);
  if (!model.ok()) return model.status().with_context("loading D-FINE checkpoint " + path);
  return model;
}

Result<std::unique_ptr<DFine>> DFine::from_tensors(const io::TensorMap& tensors, const Options& options) {
  UM_ASSIGN_OR_RETURN(const std::string prefix, find_prefix(tensors));
  if (options.input_height <= 0 || options.input_width <= 0 || options.input_height % 32 != 0 ||
      options.input_width % 32 != 0) {
    return invalid_argument("D-FINE input size " + std::to_string(options.input_width) + "x" +
                            std::to_string(options.input_height) + " must be positive multiples of 32");
  }
  if (options.dtype != DType::kF32 && options.dtype != DType::kF16) {
    return invalid_argument(std::string("D-FINE compute dtype ") + dtype_name(options.dtype) +
                            " is not supported (float32, or float16 on CUDA)");
  }
  if (options.dtype == DType::kF16 && !options.device.is_cuda()) {
    return invalid_argument("D-FINE float16 runs on CUDA only; the CPU path is float32 (device " +
                            options.device.str() + ")");
  }
#ifndef UM_WITH_CUDA
  if (options.device.is_cuda()) {
    return failed_precondition("D-FINE on " + options.device.str() +
                               ": this build has no CUDA backend (-DULTRAMOTION_CUDA=OFF)");
  }
#endif
  std::unique_ptr<DFine> m(new DFine());
  m->options_ = options;
  try {
    const io::WeightSource ws(tensors, prefix);
    m->backbone_ = HGNetv2::load(ws.sub("backbone."));
    m->encoder_ = HybridEncoder::load(ws.sub("encoder."), options.encoder_heads);
    // return_idx: the last stages whose widths match the encoder's input projections.
    const auto& enc_in = m->encoder_.in_channels();
    const auto& st_out = m->backbone_.stage_out_channels();
    if (enc_in.size() > st_out.size()) {
      return invalid_argument("encoder takes " + std::to_string(enc_in.size()) + " levels but the backbone has " +
                              std::to_string(st_out.size()) + " stages");
    }
    const size_t first = st_out.size() - enc_in.size();
    for (size_t i = 0; i < enc_in.size(); ++i) {
      if (st_out[first + i] != enc_in[i]) {
        return invalid_argument("key '" + prefix + "encoder.input_proj." + std::to_string(i) +
                                ".conv.weight' takes " + std::to_string(enc_in[i]) +
                                " channels but backbone stage " + std::to_string(first + i) + " gives " +
                                std::to_string(st_out[first + i]));
      }
      m->return_idx_.push_back(static_cast<int>(first + i));
    }
    m->decoder_ = Decoder::load(ws.sub("decoder."), static_cast<int>(enc_in.size()), options.num_queries);
    for (size_t l = 0; l < enc_in.size(); ++l) {
      if (m->decoder_.feat_channels()[l] != m->encoder_.hidden_dim()) {
        return invalid_argument("decoder level " + std::to_string(l) + " takes " +
                                std::to_string(m->decoder_.feat_channels()[l]) + " channels, encoder gives " +
                                std::to_string(m->encoder_.hidden_dim()));
      }
    }
  } catch (const Error& e) {
    return e.status();
  }
  Config& c = m->config_;
  c.backbone = classify_backbone(m->backbone_.stem_mid_channels(), m->backbone_.stem_out_channels(),
                                 m->backbone_.layers_per_block());
  c.variant = classify_variant(c.backbone, m->return_idx_.size(), m->encoder_.hidden_dim());
  c.num_classes = static_cast<int>(m->decoder_.num_classes());
  c.input_channels = static_cast<int>(m->backbone_.in_channels());
  c.use_lab = m->backbone_.use_lab();
  c.return_idx = m->return_idx_;
  for (int i : m->return_idx_) c.feat_strides.push_back(m->backbone_.stage_strides()[i]);
  c.encoder_in_channels = m->encoder_.in_channels();
  c.hidden_dim = m->encoder_.hidden_dim();
  c.decoder_hidden_dim = m->decoder_.hidden_dim();
  c.dim_feedforward = m->encoder_.dim_feedforward();
  c.encoder_depth = m->encoder_.depth();
  c.encoder_csp_channels = m->encoder_.csp_channels();
  c.decoder_layers = m->decoder_.num_layers();
  c.decoder_heads = m->decoder_.num_heads();
  c.num_points = m->decoder_.num_points();
  c.reg_max = m->decoder_.reg_max();
  UM_RETURN_IF_ERROR(m->check_overrides());
  if (!options.device.is_cpu()) {
    try {
      m->place_on_device();
    } catch (const Error& e) {
      return e.status().with_context("placing D-FINE on " + options.device.str());
    }
  }
  spdlog::debug("loaded {} on {} ({})", c.summary(), options.device.str(), dtype_name(options.dtype));
  return m;
}

Status DFine::check_overrides() const {
  if (options_.variant != Variant::kAuto && options_.variant != config_.variant) {
    return invalid_argument(std::string("--variant ") + variant_name(options_.variant) +
                            " was requested but the checkpoint holds " + config_.summary());
  }
  if (options_.num_classes >= 0 && options_.num_classes != config_.num_classes) {
    return invalid_argument("key 'decoder.enc_score_head.weight': " + std::to_string(options_.num_classes) +
                            " classes were requested but the checkpoint has " +
                            std::to_string(config_.num_classes) + " (shape [" +
                            std::to_string(config_.num_classes) + ", " +
                            std::to_string(config_.decoder_hidden_dim) + "])");
  }
  return Status::Ok();
}

void DFine::place_on_device() {
  // Each stage in its own dtype (Options::half_*); the box chain inside the decoder stays float32.
  backbone_.place({options_.device, options_.backbone_dtype(), options_.backbone_tf32(),
                   options_.backbone_split_tf32()},
                  options_.tf32_backbone_parts);
  encoder_.place({options_.device, options_.encoder_dtype()});
  decoder_.place({options_.device, options_.decoder_dtype(), false, options_.box_chain_split_tf32()});
  // Feature sizes of the configured input: stride-s levels of an input that is a multiple of 32.
  std::vector<std::pair<int64_t, int64_t>> shapes;
  for (int s : config_.feat_strides) shapes.emplace_back(options_.input_height / s, options_.input_width / s);
  encoder_.prepare(shapes.back().first, shapes.back().second);
  decoder_.prepare(shapes);
}

ForwardOutput DFine::forward(const Tensor& input_in, bool keep_intermediates) const {
  if (!input_in.defined() || !(input_in.device() == options_.device)) {
    throw Error(StatusCode::kInvalidArgument,
                "D-FINE forward: input " + (input_in.defined() ? input_in.str() : std::string("undefined")) +
                    " must be on the model's device " + options_.device.str());
  }
  const Tensor input = input_in.to(options_.backbone_dtype());
  if (input.dim() != 4 || input.size(2) % 32 != 0 || input.size(3) % 32 != 0 || input.size(2) < 32 ||
      input.size(3) < 32) {
    throw Error(StatusCode::kInvalidArgument,
                "D-FINE forward: input " + shape_str(input.shape()) +
                    " must be [N, C, H, W] with H and W positive multiples of 32");
  }
  ForwardOutput out;
  const std::vector<Tensor> stages = backbone_.forward(input);
  std::vector<Tensor> feats;
  // Stage boundaries: each stage's input converted (on the device) to that stage's dtype.
  for (int i : return_idx_) feats.push_back(stages[static_cast<size_t>(i)]);
  std::vector<Tensor> feats_in;
  for (const Tensor& f : feats) feats_in.push_back(f.to(options_.encoder_dtype()));
  std::vector<Tensor> enc = encoder_.forward(feats_in);
  if (keep_intermediates) {
    for (size_t i = 0; i < feats.size(); ++i) out.intermediates["backbone." + std::to_string(i)] = feats[i];
    for (size_t i = 0; i < enc.size(); ++i) out.intermediates["encoder." + std::to_string(i)] = enc[i];
  }
  for (Tensor& e : enc) e = e.to(options_.decoder_dtype());
  DecoderOutput d = decoder_.forward(enc);
  out.pred_logits = d.logits;
  out.pred_boxes = d.boxes;
  return out;
}

Preprocessed DFine::preprocess(const io::Image& frame) const {
  return dfine::preprocess(frame, config_.input_channels, options_);
}

Detections DFine::detect(const io::Image& frame) const {
  const Preprocessed p = preprocess(frame);
  const ForwardOutput o = forward(p.input.to(options_.device));
  return postprocess(o.pred_logits.to(Device::cpu()), o.pred_boxes.to(Device::cpu()), p.geometry,
                     options_.num_queries);
}

TopBox DFine::detect_top1(const io::Image& frame) const {
  const Detections d = detect(frame);
  return top1(d, geometry(frame.width, frame.height));
}

Geometry DFine::geometry(int frame_width, int frame_height) const {
  return make_geometry(frame_width, frame_height, options_);
}

Tensor DFine::preprocess_device(const Tensor& frame_u8) const {
  if (!frame_u8.defined() || !(frame_u8.device() == options_.device)) {
    throw Error(StatusCode::kInvalidArgument,
                "D-FINE preprocess_device: frame " + (frame_u8.defined() ? frame_u8.str() : std::string("undefined")) +
                    " must be on the model's device " + options_.device.str());
  }
  return preprocess_gray_tensor(frame_u8, config_.input_channels, options_,
                                options_.backbone_dtype());
}

Tensor DFine::top1_device(const ForwardOutput& out, const Geometry& g) const {
  nn::BoxMapping m;
  const bool lb = g.mode == ResizeMode::kLetterbox;
  m.norm_w = static_cast<float>(lb ? g.input_width : g.frame_width);
  m.norm_h = static_cast<float>(lb ? g.input_height : g.frame_height);
  m.letterbox = lb;
  m.pad_x = g.pad_x;
  m.pad_y = g.pad_y;
  m.scale = g.scale;
  m.frame_w = static_cast<float>(g.frame_width);
  m.frame_h = static_cast<float>(g.frame_height);
  return nn::detection_top1(out.pred_logits, out.pred_boxes, m);
}

}  // namespace um::dfine
