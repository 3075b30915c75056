// STATUS, STRING and TRANSFORM content (small fixed layouts; every size checked first).
//   STATUS:    code u16, subcode i64, error name char[20], message (NUL-terminated, rest of body)
//   STRING:    encoding u16 (IANA MIBenum), length u16, bytes[length] (exactly)
//   TRANSFORM: 12 f32, column-major 3x4: R11 R21 R31 R12 R22 R32 R13 R23 R33 TX TY TZ (exactly)
#include <string>

#include "igtl/byte_io.h"
#include "igtl/codec.h"

namespace um::igtl {
namespace {
constexpr size_t kStatusFixedSize = 2 + 8 + 20;
constexpr size_t kTransformSize = 48;
}  // namespace

void encode_status_content(const StatusContent& s, std::vector<uint8_t>& out) {
  ByteWriter w(out);
  w.u16(s.code);
  w.i64(s.subcode);
  w.fixed_string(s.error_name, 20);
  w.bytes(s.message.data(), s.message.size());
  w.u8(0);  // the protocol's message is a C string; peers read up to the NUL
}

Result<StatusContent> decode_status_content(std::span<const uint8_t> content) {
  if (content.size() < kStatusFixedSize) {
    return data_loss("STATUS content of " + std::to_string(content.size()) +
                     " bytes is shorter than its 30-byte fixed part");
  }
  ByteReader r(content);
  StatusContent s;
  (void)r.u16(s.code);
  (void)r.i64(s.subcode);
  (void)r.fixed_string(20, s.error_name);
  // The message runs to the first NUL, or to the end of the content if a sender omitted it.
  const uint8_t* p = r.cursor();
  size_t n = 0;
  while (n < r.remaining() && p[n] != 0) ++n;
  s.message.assign(reinterpret_cast<const char*>(p), n);
  return s;
}

Status encode_string_content(const StringContent& s, std::vector<uint8_t>& out) {
  if (s.text.size() > 0xffff) {
    return invalid_argument("STRING longer than 65535 bytes: " + std::to_string(s.text.size()));
  }
  ByteWriter w(out);
  w.u16(s.encoding);
  w.u16(static_cast<uint16_t>(s.text.size()));
  w.bytes(s.text.data(), s.text.size());
  return Status::Ok();
}

Result<StringContent> decode_string_content(std::span<const uint8_t> content) {
  ByteReader r(content);
  StringContent s;
  uint16_t length = 0;
  if (!r.u16(s.encoding) || !r.u16(length)) {
    return data_loss("STRING content of " + std::to_string(content.size()) +
                     " bytes is shorter than its 4-byte header");
  }
  if (r.remaining() != length) {
    return data_loss("STRING length field says " + std::to_string(length) + " bytes, body has " +
                     std::to_string(r.remaining()));
  }
  s.text.assign(reinterpret_cast<const char*>(r.cursor()), length);
  return s;
}

void encode_transform_content(const TransformContent& t, std::vector<uint8_t>& out) {
  ByteWriter w(out);
  for (int col = 0; col < 4; ++col)
    for (int row = 0; row < 3; ++row) w.f32(t.matrix[row][col]);
}

Result<TransformContent> decode_transform_content(std::span<const uint8_t> content) {
  if (content.size() != kTransformSize) {
    return data_loss("TRANSFORM content must be 48 bytes, have " +
                     std::to_string(content.size()));
  }
  ByteReader r(content);
  TransformContent t;
  for (int col = 0; col < 4; ++col)
    for (int row = 0; row < 3; ++row) (void)r.f32(t.matrix[row][col]);
  t.matrix[3] = {0, 0, 0, 1};
  return t;
}

}  // namespace um::igtl
