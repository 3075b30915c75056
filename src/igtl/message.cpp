// Plain helpers for the Message types: geometry centre <-> origin, query prefixes, constructors.
#include "igtl/message.h"

#include "igtl/header.h"

namespace um::igtl {

size_t scalar_size(ScalarType t) {
  switch (t) {
    case ScalarType::kInt8:
    case ScalarType::kUint8: return 1;
    case ScalarType::kInt16:
    case ScalarType::kUint16: return 2;
    case ScalarType::kInt32:
    case ScalarType::kUint32:
    case ScalarType::kFloat32: return 4;
    case ScalarType::kFloat64: return 8;
  }
  return 0;
}

const char* scalar_type_name(ScalarType t) {
  switch (t) {
    case ScalarType::kInt8: return "int8";
    case ScalarType::kUint8: return "uint8";
    case ScalarType::kInt16: return "int16";
    case ScalarType::kUint16: return "uint16";
    case ScalarType::kInt32: return "int32";
    case ScalarType::kUint32: return "uint32";
    case ScalarType::kFloat32: return "float32";
    case ScalarType::kFloat64: return "float64";
  }
  return "invalid";
}

bool is_valid_scalar_type(uint8_t code) {
  return scalar_size(static_cast<ScalarType>(code)) != 0;
}

Vec3 ImageGeometry::centre() const {
  Vec3 c = origin;
  for (int a = 0; a < 3; ++a) {
    double half = spacing[a] * (static_cast<double>(size[a]) - 1.0) / 2.0;
    for (int r = 0; r < 3; ++r) c[r] += direction[a][r] * half;
  }
  return c;
}

void ImageGeometry::set_centre(const Vec3& centre) {
  origin = centre;
  for (int a = 0; a < 3; ++a) {
    double half = spacing[a] * (static_cast<double>(size[a]) - 1.0) / 2.0;
    for (int r = 0; r < 3; ++r) origin[r] -= direction[a][r] * half;
  }
}

const std::string* Message::find_metadata(const std::string& key) const {
  for (const auto& e : metadata)
    if (e.key == key) return &e.value;
  return nullptr;
}

QueryType split_query(const std::string& type) {
  for (const char* p : {"GET_", "STT_", "STP_", "RTS_"}) {
    if (type.size() > 4 && type.compare(0, 4, p) == 0) return {p, type.substr(4)};
  }
  return {"", type};
}

Message make_image_message(std::string device, const ImageGeometry& geometry, ScalarType type,
                           uint8_t components, std::vector<uint8_t> pixels, int64_t unix_ns) {
  Message m;
  m.type = "IMAGE";
  m.device_name = std::move(device);
  if (unix_ns > 0) m.timestamp = timestamp_from_ns(unix_ns);
  ImageContent img;
  img.geometry = geometry;
  img.scalar_type = type;
  img.components = components;
  img.subvolume_size = geometry.size;
  img.pixels = std::move(pixels);
  m.content = std::move(img);
  return m;
}

Message make_status_message(std::string device, uint16_t code, std::string text,
                            std::string error_name, int64_t subcode) {
  Message m;
  m.type = "STATUS";
  m.device_name = std::move(device);
  StatusContent s;
  s.code = code;
  s.subcode = subcode;
  s.error_name = std::move(error_name);
  s.message = std::move(text);
  m.content = std::move(s);
  return m;
}

Message make_string_message(std::string device, std::string text) {
  Message m;
  m.type = "STRING";
  m.device_name = std::move(device);
  m.content = StringContent{kEncodingUsAscii, std::move(text)};
  return m;
}

Message make_transform_message(std::string device, const TransformContent& transform) {
  Message m;
  m.type = "TRANSFORM";
  m.device_name = std::move(device);
  m.content = transform;
  return m;
}

Message make_query_message(const std::string& prefix, const std::string& base,
                           std::string device) {
  Message m;
  m.type = prefix + base;
  m.device_name = std::move(device);
  m.content = RawContent{};
  return m;
}

}  // namespace um::igtl
