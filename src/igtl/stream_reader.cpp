// Framing of a byte stream into messages; the keep/close policy is documented in the header.
#include "igtl/stream_reader.h"

#include <cstring>
#include <string>

namespace um::igtl {

bool reject_closes_connection(RejectReason reason) {
  switch (reason) {
    case RejectReason::kBadHeader:
    case RejectReason::kBodyTooLarge:
    case RejectReason::kTruncated: return true;
    case RejectReason::kBadCrc:
    case RejectReason::kBadExtendedHeader:
    case RejectReason::kBadMetadata:
    case RejectReason::kBadContent: return false;
    case RejectReason::kCount: break;
  }
  return true;
}

StreamReader::StreamReader(DecodeOptions options) : options_(options) {}

void StreamReader::feed(const uint8_t* data, size_t size) {
  if (failed_ || size == 0) return;  // a closed stream's bytes are meaningless
  compact();
  buffer_.insert(buffer_.end(), data, data + size);
}

// Moves unconsumed bytes to the front once the consumed prefix dominates, so the buffer does
// not grow without bound while bursts of small messages stream through.
void StreamReader::compact() {
  if (start_ == 0) return;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ >= buffer_.size() / 2) {
    std::memmove(buffer_.data(), buffer_.data() + start_, buffer_.size() - start_);
    buffer_.resize(buffer_.size() - start_);
    start_ = 0;
  }
}

ReadOutcome StreamReader::reject(RejectReason reason, Status status, uint16_t version) {
  ++rejects_[static_cast<size_t>(reason)];
  ReadOutcome o;
  o.state = ReadState::kRejected;
  o.status = std::move(status);
  o.reason = reason;
  o.close_connection = reject_closes_connection(reason);
  o.header_version = version;
  if (o.close_connection) {
    failed_ = true;
    failure_ = o;
    buffer_.clear();
    start_ = 0;
  }
  return o;
}

ReadOutcome StreamReader::next(Message& out) {
  if (failed_) return failure_;
  const size_t avail = buffer_.size() - start_;
  if (avail < kHeaderSize) return {};
  std::span<const uint8_t> bytes(buffer_.data() + start_, avail);
  auto header = decode_header(bytes);
  if (!header.ok()) return reject(RejectReason::kBadHeader, header.status(), 0);
  const Header& h = *header;
  if (h.body_size > options_.max_body_size) {
    return reject(RejectReason::kBodyTooLarge,
                  data_loss(h.type + " '" + h.device_name + "': body size " +
                            std::to_string(h.body_size) + " exceeds the " +
                            std::to_string(options_.max_body_size) + "-byte limit"),
                  h.version);
  }
  if (avail - kHeaderSize < h.body_size) return {};  // wait for the rest of the body
  auto body = bytes.subspan(kHeaderSize, static_cast<size_t>(h.body_size));
  RejectReason reason = RejectReason::kBadContent;
  auto decoded = decode_body(h, body, options_, &reason);
  // The header framed this message: consume it whether it decoded or not.
  start_ += kHeaderSize + static_cast<size_t>(h.body_size);
  if (!decoded.ok()) return reject(reason, decoded.status(), h.version);
  out = std::move(decoded).value();
  ++messages_;
  if (std::holds_alternative<RawContent>(out.content) && split_query(out.type).prefix.empty() &&
      options_.decode_content) {
    ++unknown_types_;
  }
  ReadOutcome o;
  o.state = ReadState::kMessage;
  o.header_version = h.version;
  return o;
}

ReadOutcome StreamReader::finish() {
  if (failed_) return failure_;
  const size_t left = buffer_.size() - start_;
  if (left == 0) return {};
  return reject(RejectReason::kTruncated,
                data_loss("connection closed with " + std::to_string(left) +
                          " bytes of an incomplete message buffered"),
                0);
}

void StreamReader::reset() {
  buffer_.clear();
  start_ = 0;
  failed_ = false;
  failure_ = {};
}

uint64_t StreamReader::total_rejects() const {
  uint64_t n = 0;
  for (uint64_t c : rejects_) n += c;
  return n;
}

}  // namespace um::igtl
