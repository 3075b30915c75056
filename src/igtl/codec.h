// File: src/igtl/codec.h
// Purpose: Message <-> bytes. encode() builds header + body (CRC-64 computed over the body);
// decode_body() turns a framed header + body into a Message, validating every length against
// the body before reading it. Framing a byte stream (partial reads, bursts, resync policy) is
// stream_reader.h's job; this file only sees whole messages. Never throws on bad bytes.
// Usage:
//   std::vector<uint8_t> wire = encode(msg);                     // msg.header_version decides
//   Result<Message> m = decode(wire);                            // a whole message in memory
//   Result<Message> m = decode_body(header, body, DecodeOptions{});
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "igtl/header.h"
#include "igtl/message.h"

namespace um::igtl {

// Why a message was refused; StreamReader counts these and maps each to keep/close.
enum class RejectReason : uint8_t {
  kBadHeader = 0,      // version not 1/2, or non-printable type/device name (framing lost)
  kBodyTooLarge,       // body size above DecodeOptions::max_body_size
  kBadCrc,             // CRC-64 mismatch
  kBadExtendedHeader,  // v2 extended header missing, too small, or sizes exceeding the body
  kBadMetadata,        // metadata counts/sizes inconsistent with the metadata block
  kBadContent,         // content inconsistent (IMAGE sizes vs bytes, STRING length, ...)
  kTruncated,          // the stream ended in the middle of a message
  kCount,
};
const char* reject_reason_name(RejectReason r);

struct DecodeOptions {
  bool check_crc = true;                          // PlusServer fills the CRC; so do we
  uint64_t max_body_size = 64ull * 1024 * 1024;   // larger bodies are refused unread
  // false: IMAGE/STATUS/... content is kept as RawContent (dump tools, fast filtering).
  bool decode_content = true;
};

// A decode error plus the reason to count.
struct DecodeError {
  RejectReason reason;
  Status status;
};

// Serialises `message` (header version from message.header_version; metadata and message id
// are dropped for version 1). Invalid content (e.g. pixel count not matching the geometry)
// returns kInvalidArgument rather than producing a message peers would reject.
Result<std::vector<uint8_t>> encode(const Message& message);
// Appends the encoding to `out` (reuses its capacity: the send path encodes every frame).
Status encode_into(const Message& message, std::vector<uint8_t>& out);
// As encode_into, but with `header_version` instead of message.header_version (the server
// encodes one broadcast once per version its clients speak, without copying the pixels).
Status encode_as(const Message& message, uint16_t header_version, std::vector<uint8_t>& out);

// Decodes one body that belongs to `header` (body.size() must equal header.body_size).
// On failure returns the error Status; `reason` (if non-null) receives the counted reason.
Result<Message> decode_body(const Header& header, std::span<const uint8_t> body,
                            const DecodeOptions& options = {}, RejectReason* reason = nullptr);
// Decodes a complete message (header + body) held in memory; trailing bytes are an error.
Result<Message> decode(std::span<const uint8_t> wire, const DecodeOptions& options = {},
                       RejectReason* reason = nullptr);

// Content codecs (no header, no extended header, no metadata), exposed for tests and tools.
Status encode_image_content(const ImageContent& image, std::vector<uint8_t>& out);
Result<ImageContent> decode_image_content(std::span<const uint8_t> content);
void encode_status_content(const StatusContent& status, std::vector<uint8_t>& out);
Result<StatusContent> decode_status_content(std::span<const uint8_t> content);
Status encode_string_content(const StringContent& s, std::vector<uint8_t>& out);
Result<StringContent> decode_string_content(std::span<const uint8_t> content);
void encode_transform_content(const TransformContent& t, std::vector<uint8_t>& out);
Result<TransformContent> decode_transform_content(std::span<const uint8_t> content);

}  // namespace um::igtl
