// Header-version-2 body framing: extended header and metadata. Every size is checked against
// the bytes actually present before anything is read (fuzzed by tests/fuzz).
#include "igtl/metadata.h"

#include <string>

#include "igtl/byte_io.h"

namespace um::igtl {

Result<BodyParts> split_body_v2(std::span<const uint8_t> body, bool* metadata_error) {
  if (metadata_error) *metadata_error = false;
  ByteReader r(body);
  uint16_t ext_size = 0, meta_header_size = 0;
  uint32_t meta_size = 0;
  BodyParts parts;
  if (!r.u16(ext_size) || !r.u16(meta_header_size) || !r.u32(meta_size) ||
      !r.u32(parts.message_id)) {
    return data_loss("body of " + std::to_string(body.size()) +
                     " bytes is too short for the 12-byte extended header");
  }
  if (ext_size < kExtendedHeaderSize || ext_size > body.size()) {
    return data_loss("extended header size " + std::to_string(ext_size) +
                     " outside 12.." + std::to_string(body.size()));
  }
  const uint64_t meta_total = uint64_t{meta_header_size} + meta_size;
  if (meta_total > body.size() - ext_size) {
    if (metadata_error) *metadata_error = true;
    return data_loss("metadata (" + std::to_string(meta_header_size) + " + " +
                     std::to_string(meta_size) + " bytes) exceeds the " +
                     std::to_string(body.size() - ext_size) + " bytes after the extended header");
  }
  const size_t content_end = body.size() - static_cast<size_t>(meta_total);
  parts.content = body.subspan(ext_size, content_end - ext_size);
  parts.metadata_header = body.subspan(content_end, meta_header_size);
  parts.metadata_values = body.subspan(content_end + meta_header_size, meta_size);
  return parts;
}

Result<Metadata> decode_metadata(std::span<const uint8_t> header,
                                 std::span<const uint8_t> values) {
  Metadata out;
  if (header.empty()) {
    if (!values.empty()) return data_loss("metadata values present without a metadata header");
    return out;
  }
  ByteReader h(header);
  uint16_t count = 0;
  if (!h.u16(count)) return data_loss("metadata header shorter than its 2-byte count");
  if (header.size() != 2 + size_t{count} * 8) {
    return data_loss("metadata count " + std::to_string(count) + " needs a " +
                     std::to_string(2 + size_t{count} * 8) + "-byte header, have " +
                     std::to_string(header.size()));
  }
  ByteReader v(values);
  out.reserve(count);
  for (uint16_t i = 0; i < count; ++i) {
    uint16_t key_size = 0, encoding = 0;
    uint32_t value_size = 0;
    (void)h.u16(key_size);  // sizes checked above: the table holds `count` entries
    (void)h.u16(encoding);
    (void)h.u32(value_size);
    std::span<const uint8_t> key, value;
    if (!v.bytes(key_size, key) || !v.bytes(value_size, value)) {
      return data_loss("metadata entry " + std::to_string(i) + " (key " +
                       std::to_string(key_size) + " + value " + std::to_string(value_size) +
                       " bytes) runs past the " + std::to_string(values.size()) +
                       "-byte metadata block");
    }
    out.push_back({std::string(key.begin(), key.end()), std::string(value.begin(), value.end()),
                   encoding});
  }
  if (v.remaining() != 0) {
    return data_loss("metadata block has " + std::to_string(v.remaining()) +
                     " bytes not covered by its entries");
  }
  return out;
}

size_t metadata_header_size(const Metadata& metadata) { return 2 + metadata.size() * 8; }

size_t metadata_values_size(const Metadata& metadata) {
  size_t n = 0;
  for (const auto& e : metadata) n += e.key.size() + e.value.size();
  return n;
}

Status append_extended_header(uint32_t message_id, const Metadata& metadata,
                              std::vector<uint8_t>& out) {
  if (metadata.size() > 0xffff / 8 - 1) {
    return invalid_argument("too many metadata entries: " + std::to_string(metadata.size()));
  }
  for (const auto& e : metadata) {
    if (e.key.size() > 0xffff) return invalid_argument("metadata key longer than 65535 bytes");
    if (e.value.size() > 0xffffffffull) return invalid_argument("metadata value too long");
  }
  const size_t values = metadata_values_size(metadata);
  if (values > 0xffffffffull) return invalid_argument("metadata values exceed 4 GiB");
  ByteWriter w(out);
  w.u16(kExtendedHeaderSize);
  w.u16(static_cast<uint16_t>(metadata_header_size(metadata)));
  w.u32(static_cast<uint32_t>(values));
  w.u32(message_id);
  return Status::Ok();
}

void append_metadata(const Metadata& metadata, std::vector<uint8_t>& out) {
  ByteWriter w(out);
  w.u16(static_cast<uint16_t>(metadata.size()));
  for (const auto& e : metadata) {
    w.u16(static_cast<uint16_t>(e.key.size()));
    w.u16(e.encoding);
    w.u32(static_cast<uint32_t>(e.value.size()));
  }
  for (const auto& e : metadata) {
    w.bytes(e.key.data(), e.key.size());
    w.bytes(e.value.data(), e.value.size());
  }
}

}  // namespace um::igtl
