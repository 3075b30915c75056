// File: src/igtl/metadata.h
// Purpose: the header-version-2 body framing: extended header at the front, metadata at the end.
//   body = extended header | content | metadata header | metadata values
//   extended header: ext header size u16 (>= 12; read it, do not assume 12), metadata header
//                    size u16, metadata size u32, message id u32, [extra bytes to ext size]
//   metadata header: count u16, then per entry key size u16, value encoding u16, value size u32
//   metadata values: key bytes then value bytes, entry after entry
// Usage:
//   Result<BodyParts> parts = split_body_v2(body);   // validates all sizes against the body
//   append_body_v2(message_id, metadata, content_bytes, out);
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "igtl/message.h"

namespace um::igtl {

inline constexpr uint16_t kExtendedHeaderSize = 12;

struct BodyParts {
  uint32_t message_id = 0;
  std::span<const uint8_t> content;
  std::span<const uint8_t> metadata_header;  // count + entries (may be empty: no metadata)
  std::span<const uint8_t> metadata_values;
};

// Splits a version-2 body. Errors (kDataLoss) say which size is inconsistent; `metadata_error`
// tells the caller whether the problem was in the metadata block (vs the extended header).
Result<BodyParts> split_body_v2(std::span<const uint8_t> body, bool* metadata_error = nullptr);
// Parses the metadata block: the count must match the header table size and the key/value
// sizes must add up to the values block exactly.
Result<Metadata> decode_metadata(std::span<const uint8_t> header, std::span<const uint8_t> values);

// Sizes the metadata header/values would take (for pre-sizing buffers).
size_t metadata_header_size(const Metadata& metadata);
size_t metadata_values_size(const Metadata& metadata);
// Writes the extended header (message id, metadata sizes) into `out`.
Status append_extended_header(uint32_t message_id, const Metadata& metadata,
                              std::vector<uint8_t>& out);
// Writes the metadata header and values into `out`.
void append_metadata(const Metadata& metadata, std::vector<uint8_t>& out);

}  // namespace um::igtl
