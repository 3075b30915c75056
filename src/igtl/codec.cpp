// Whole-message encode/decode: header + (extended header) + content + (metadata), CRC-64.
#include "igtl/codec.h"

#include <string>

#include "igtl/byte_io.h"
#include "igtl/crc64.h"
#include "igtl/metadata.h"

namespace um::igtl {
namespace {

Status append_content(const Message& m, std::vector<uint8_t>& out) {
  return std::visit(
      [&](const auto& c) -> Status {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ImageContent>) {
          return encode_image_content(c, out);
        } else if constexpr (std::is_same_v<T, StatusContent>) {
          encode_status_content(c, out);
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, StringContent>) {
          return encode_string_content(c, out);
        } else if constexpr (std::is_same_v<T, TransformContent>) {
          encode_transform_content(c, out);
          return Status::Ok();
        } else {
          out.insert(out.end(), c.bytes.begin(), c.bytes.end());
          return Status::Ok();
        }
      },
      m.content);
}

Result<Content> decode_content(const std::string& type, std::span<const uint8_t> bytes) {
  if (type == "IMAGE") {
    auto r = decode_image_content(bytes);
    if (!r.ok()) return r.status();
    return Content(std::move(r).value());
  }
  if (type == "STATUS") {
    auto r = decode_status_content(bytes);
    if (!r.ok()) return r.status();
    return Content(std::move(r).value());
  }
  if (type == "STRING") {
    auto r = decode_string_content(bytes);
    if (!r.ok()) return r.status();
    return Content(std::move(r).value());
  }
  if (type == "TRANSFORM") {
    auto r = decode_transform_content(bytes);
    if (!r.ok()) return r.status();
    return Content(std::move(r).value());
  }
  return Content(RawContent{std::vector<uint8_t>(bytes.begin(), bytes.end())});
}

Status fail(RejectReason why, RejectReason* reason, Status s) {
  if (reason) *reason = why;
  return s;
}

}  // namespace

const char* reject_reason_name(RejectReason r) {
  switch (r) {
    case RejectReason::kBadHeader: return "bad_header";
    case RejectReason::kBodyTooLarge: return "body_too_large";
    case RejectReason::kBadCrc: return "bad_crc";
    case RejectReason::kBadExtendedHeader: return "bad_extended_header";
    case RejectReason::kBadMetadata: return "bad_metadata";
    case RejectReason::kBadContent: return "bad_content";
    case RejectReason::kTruncated: return "truncated";
    case RejectReason::kCount: break;
  }
  return "unknown";
}

Status encode_into(const Message& m, std::vector<uint8_t>& out) {
  return encode_as(m, m.header_version, out);
}

Status encode_as(const Message& m, uint16_t version, std::vector<uint8_t>& out) {
  if (version != 1 && version != 2) {
    return invalid_argument("header version must be 1 or 2, got " + std::to_string(version));
  }
  if (m.type.empty() || m.type.size() > kTypeSize) {
    return invalid_argument("message type '" + m.type + "' must have 1..12 characters");
  }
  // A truncated device name would silently rename the Slicer node: refuse instead.
  if (m.device_name.size() > kDeviceNameSize) {
    return invalid_argument("device name '" + m.device_name + "' is longer than 20 characters");
  }
  const size_t header_at = out.size();
  out.resize(header_at + kHeaderSize);
  const size_t body_at = out.size();
  if (version == 2) {
    Status ext = append_extended_header(m.message_id, m.metadata, out);
    if (!ext.ok()) {
      out.resize(header_at);
      return ext;
    }
  }
  Status s = append_content(m, out);
  if (!s.ok()) {
    out.resize(header_at);
    return s.with_context(m.type);
  }
  if (version == 2) append_metadata(m.metadata, out);
  Header h;
  h.version = version;
  h.type = m.type;
  h.device_name = m.device_name;
  h.timestamp = m.timestamp;
  h.body_size = out.size() - body_at;
  h.crc = crc64(out.data() + body_at, h.body_size);
  encode_header(h, out.data() + header_at);
  return Status::Ok();
}

Result<std::vector<uint8_t>> encode(const Message& message) {
  std::vector<uint8_t> out;
  UM_RETURN_IF_ERROR(encode_into(message, out));
  return out;
}

Result<Message> decode_body(const Header& header, std::span<const uint8_t> body,
                            const DecodeOptions& options, RejectReason* reason) {
  if (header.body_size > options.max_body_size) {
    return fail(RejectReason::kBodyTooLarge, reason,
                data_loss("body size " + std::to_string(header.body_size) + " exceeds the " +
                          std::to_string(options.max_body_size) + "-byte limit"));
  }
  if (body.size() != header.body_size) {
    return fail(RejectReason::kTruncated, reason,
                data_loss("header promises " + std::to_string(header.body_size) +
                          " body bytes, have " + std::to_string(body.size())));
  }
  if (options.check_crc) {
    const uint64_t crc = crc64(body.data(), body.size());
    if (crc != header.crc) {
      return fail(RejectReason::kBadCrc, reason,
                  data_loss(header.type + " '" + header.device_name + "': CRC-64 mismatch"));
    }
  }
  Message m;
  m.header_version = header.version;
  m.type = header.type;
  m.device_name = header.device_name;
  m.timestamp = header.timestamp;
  std::span<const uint8_t> content = body;
  if (header.version >= 2) {
    bool metadata_error = false;
    auto parts = split_body_v2(body, &metadata_error);
    if (!parts.ok()) {
      return fail(metadata_error ? RejectReason::kBadMetadata : RejectReason::kBadExtendedHeader,
                  reason, parts.status().with_context(header.type));
    }
    m.message_id = parts->message_id;
    auto meta = decode_metadata(parts->metadata_header, parts->metadata_values);
    if (!meta.ok()) {
      return fail(RejectReason::kBadMetadata, reason, meta.status().with_context(header.type));
    }
    m.metadata = std::move(meta).value();
    content = parts->content;
  }
  if (options.decode_content) {
    auto c = decode_content(header.type, content);
    if (!c.ok()) {
      return fail(RejectReason::kBadContent, reason,
                  c.status().with_context("'" + header.device_name + "'"));
    }
    m.content = std::move(c).value();
  } else {
    m.content = RawContent{std::vector<uint8_t>(content.begin(), content.end())};
  }
  return m;
}

Result<Message> decode(std::span<const uint8_t> wire, const DecodeOptions& options,
                       RejectReason* reason) {
  auto h = decode_header(wire);
  if (!h.ok()) {
    return fail(wire.size() < kHeaderSize ? RejectReason::kTruncated : RejectReason::kBadHeader,
                reason, h.status());
  }
  if (h->body_size > options.max_body_size) {
    return decode_body(*h, {}, options, reason);  // reports kBodyTooLarge
  }
  if (wire.size() - kHeaderSize != h->body_size) {
    const bool short_body = wire.size() - kHeaderSize < h->body_size;
    return fail(short_body ? RejectReason::kTruncated : RejectReason::kBadContent, reason,
                data_loss("message has " + std::to_string(wire.size() - kHeaderSize) +
                          " body bytes, header says " + std::to_string(h->body_size)));
  }
  return decode_body(*h, wire.subspan(kHeaderSize), options, reason);
}

}  // namespace um::igtl
