// RX/TX conversions between OpenIGTLink messages and pipeline frames/results.
#include "gateway/igtl_convert.h"

#include <cstdio>

#include "core/clock.h"
#include "igtl/header.h"

namespace um::gateway {
namespace {

std::string seconds_str(int64_t unix_ns) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(unix_ns) * 1e-9);
  return buf;
}

std::string float_str(double v, int decimals = 4) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A 0/1 map scaled to the label value; an empty map (no detection) becomes all zeros.
std::vector<uint8_t> label_pixels(const std::vector<uint8_t>& map, size_t n, int label_value) {
  std::vector<uint8_t> out(n, 0);
  if (map.size() == n) {
    const uint8_t v = static_cast<uint8_t>(label_value);
    for (size_t i = 0; i < n; ++i) out[i] = map[i] ? v : 0;
  }
  return out;
}

}  // namespace

pipeline::ImageGeometry from_igtl_geometry(const igtl::ImageGeometry& g) {
  pipeline::ImageGeometry p;
  const igtl::Vec3 c = g.centre();
  for (int a = 0; a < 3; ++a) {
    p.spacing[a] = static_cast<float>(g.spacing[a]);
    p.origin[a] = static_cast<float>(c[a]);
    for (int r = 0; r < 3; ++r) p.direction[a][r] = static_cast<float>(g.direction[a][r]);
  }
  p.coordinate_system = static_cast<uint8_t>(g.coordinates);
  return p;
}

igtl::ImageGeometry to_igtl_geometry(const pipeline::ImageGeometry& p, int width, int height) {
  igtl::ImageGeometry g;
  g.size = {static_cast<uint32_t>(width), static_cast<uint32_t>(height), 1};
  igtl::Vec3 centre{};
  for (int a = 0; a < 3; ++a) {
    g.spacing[a] = p.spacing[a];
    centre[a] = p.origin[a];
    for (int r = 0; r < 3; ++r) g.direction[a][r] = p.direction[a][r];
  }
  g.coordinates = p.coordinate_system == 2 ? igtl::CoordinateSystem::kLPS
                                           : igtl::CoordinateSystem::kRAS;
  g.set_centre(centre);
  return g;
}

Result<pipeline::Frame> frame_from_image_message(const igtl::Message& m) {
  const auto* img = std::get_if<igtl::ImageContent>(&m.content);
  if (m.type != "IMAGE" || img == nullptr)
    return invalid_argument("message '" + m.type + "' from '" + m.device_name +
                            "' is not a decoded IMAGE");
  if (img->scalar_type != igtl::ScalarType::kUint8)
    return invalid_argument(std::string("IMAGE scalar type ") +
                            igtl::scalar_type_name(img->scalar_type) +
                            " is not supported (expected uint8 gray or RGB)");
  const int c = img->components;
  if (c != 1 && c != 3 && c != 4)
    return invalid_argument("IMAGE with " + std::to_string(c) +
                            " components is not supported (expected 1, 3 or 4)");
  const auto& size = img->geometry.size;
  if (size[2] != 1)
    return invalid_argument("IMAGE is a volume of " + std::to_string(size[2]) +
                            " slices (expected one 2D frame)");
  const bool whole = (img->subvolume_size == size || img->subvolume_size == decltype(size){0, 0, 0}) &&
                     img->subvolume_offset == decltype(size){0, 0, 0};
  if (!whole) return invalid_argument("IMAGE carries a sub-volume; only whole frames are used");
  const size_t n = static_cast<size_t>(size[0]) * size[1];
  if (img->pixels.size() != n * c)
    return invalid_argument("IMAGE pixel bytes " + std::to_string(img->pixels.size()) +
                            " do not match " + std::to_string(size[0]) + "x" +
                            std::to_string(size[1]) + "x" + std::to_string(c));

  pipeline::Frame f;
  f.width = static_cast<int>(size[0]);
  f.height = static_cast<int>(size[1]);
  f.device_name = m.device_name;
  f.source_timestamp_ns = igtl::timestamp_to_ns(m.timestamp);
  f.geometry = from_igtl_geometry(img->geometry);
  if (c == 1) {
    f.pixels = img->pixels;
  } else {
    f.pixels.resize(n);
    const uint8_t* p = img->pixels.data();
    for (size_t i = 0; i < n; ++i) {
      const uint32_t r = p[i * c], g = p[i * c + 1], b = p[i * c + 2];
      f.pixels[i] = static_cast<uint8_t>((r * 299 + g * 587 + b * 114 + 500) / 1000);
    }
  }
  UM_RETURN_IF_ERROR(pipeline::validate_frame(f));
  return f;
}

igtl::Message frame_to_image_message(const pipeline::Frame& frame, uint16_t header_version) {
  igtl::Message m = igtl::make_image_message(
      frame.device_name, to_igtl_geometry(frame.geometry, frame.width, frame.height),
      igtl::ScalarType::kUint8, 1, frame.pixels, frame.source_timestamp_ns);
  m.header_version = header_version;
  return m;
}

igtl::Message make_state_status(const std::string& device, pipeline::VisibilityState state,
                                uint64_t frame_id) {
  const std::string name = pipeline::visibility_state_name(state);
  igtl::Message m = igtl::make_status_message(
      device, static_cast<uint16_t>(igtl::StatusMessageCode::kOk),
      "bone " + name + " from frame " + std::to_string(frame_id), name,
      static_cast<int64_t>(frame_id));
  m.timestamp = igtl::timestamp_from_ns(wall_clock_ns());
  m.metadata.push_back({"State", name});
  m.metadata.push_back({"FrameId", std::to_string(frame_id)});
  return m;
}

std::vector<igtl::Message> build_tx_messages(const OutputItem& item, const TxOptions& o,
                                             int64_t send_mono_ns) {
  const pipeline::Frame& f = item.frame;
  const pipeline::FrameResult& r = item.result;
  const size_t n = static_cast<size_t>(f.width) * f.height;
  const igtl::ImageGeometry geom = to_igtl_geometry(f.geometry, f.width, f.height);
  const auto utc = [&](int64_t mono) { return seconds_str(mono + o.wall_minus_monotonic_ns); };

  igtl::Metadata md;
  md.push_back({"FrameId", std::to_string(r.frame_id)});
  md.push_back({"SourceDevice", f.device_name});
  md.push_back({"SourceTimestamp", seconds_str(f.source_timestamp_ns)});
  md.push_back({"ReceiveTime", utc(f.receive_time_ns)});
  md.push_back({"InferenceStart", utc(r.timings.start_ns)});
  md.push_back({"InferenceEnd", utc(r.timings.end_ns)});
  md.push_back({"InferenceMs", float_str(ns_to_ms(r.timings.total_ns), 3)});
  md.push_back({"SendTime", utc(send_mono_ns)});
  md.push_back({"State", pipeline::visibility_state_name(r.state)});
  md.push_back({"Detected", r.detected ? "1" : "0"});
  // Detector skipping: "ran" = D-FINE ran on this frame, "tracked" = the box is the tracker's
  // prediction (pipeline/frame_state.h).
  md.push_back({"Detector", r.detector_ran ? "ran" : "tracked"});
  md.push_back({"Score", float_str(r.box.score)});
  md.push_back({"Box", float_str(r.box.x0, 2) + " " + float_str(r.box.y0, 2) + " " +
                           float_str(r.box.x1, 2) + " " + float_str(r.box.y1, 2)});
  md.push_back({"MaskArea", std::to_string(r.mask_area)});
  md.push_back({"Quality", float_str(r.quality.combined)});
  md.push_back({"LabelValue", std::to_string(o.label_value)});
  md.push_back({"Weights", o.weights_note});
  md.push_back({"SyntheticWeights", o.synthetic_weights});

  const uint64_t ts = igtl::timestamp_from_ns(f.source_timestamp_ns);
  std::vector<igtl::Message> out;
  auto add_image = [&](const std::string& device, const std::vector<uint8_t>& map) {
    igtl::Message m = igtl::make_image_message(device, geom, igtl::ScalarType::kUint8, 1,
                                               label_pixels(map, n, o.label_value));
    m.timestamp = ts;  // the SOURCE frame's acquisition time, not ours
    m.metadata = md;
    out.push_back(std::move(m));
  };
  if (o.outputs.bone_mask) add_image(o.device, r.mask);
  if (o.outputs.weights) {
    add_image(o.device + "_Wedge", r.w_edge);
    add_image(o.device + "_Win", r.w_in);
    add_image(o.device + "_Wout", r.w_out);
  }
  if (o.outputs.status && r.state_changed)
    out.push_back(make_state_status(o.status_device, r.state, r.frame_id));
  return out;
}

}  // namespace um::gateway
