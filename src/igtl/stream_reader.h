// File: src/igtl/stream_reader.h
// Purpose: frames OpenIGTLink messages out of a TCP byte stream. Bytes go in with feed() in
// whatever pieces the socket returns; next() yields whole, validated messages, one at a time.
// Every refusal is counted by reason and carries a Status naming the problem.
//
// Keep-vs-close policy (what the caller must do with the connection after a rejection):
//   kBadHeader          CLOSE  version not 1/2 or non-printable type/name: the stream lost its
//                              framing; nothing after it can be trusted.
//   kBodyTooLarge       CLOSE  body size > max_body_size (default 64 MiB): a lie or an attack;
//                              skipping it would mean reading gigabytes.
//   kBadCrc             KEEP   the message is dropped; the body size framed it, so the next
//                              header is where it should be.
//   kBadExtendedHeader  KEEP   dropped, same reason (framing comes from the 58-byte header).
//   kBadMetadata        KEEP   dropped.
//   kBadContent         KEEP   dropped (e.g. IMAGE whose sizes don't match its pixel bytes).
//   kTruncated          CLOSE  reported by finish() when the peer closed mid-message.
// A body size that lies SMALL usually shows up as kBadContent (the content is short) followed by
// kBadHeader (the leftover bytes are not a header) -> close. A body size that lies LARGE
// swallows the next message's bytes: with CRC checking on it is dropped as kBadCrc (keep), or the
// peer closes first and finish() counts kTruncated.
// Unknown message types are not rejections: they are framed by body size and returned with
// RawContent (counted in unknown_types()).
//
// Usage:
//   StreamReader reader(opts);
//   reader.feed(buf, n);
//   Message m;
//   for (;;) {
//     ReadOutcome o = reader.next(m);
//     if (o.state == ReadState::kNeedMore) break;
//     if (o.state == ReadState::kMessage) handle(std::move(m));
//     else if (o.close_connection) { close(); break; }     // kRejected: log o.status
//   }
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "igtl/codec.h"

namespace um::igtl {

enum class ReadState : uint8_t { kNeedMore, kMessage, kRejected };

struct ReadOutcome {
  ReadState state = ReadState::kNeedMore;
  Status status;                       // error description when kRejected
  RejectReason reason = RejectReason::kCount;
  bool close_connection = false;       // kRejected: the policy above says close
  uint16_t header_version = 0;         // of the framed message (kMessage or kRejected after header)
};

// Whether a rejection of this reason requires closing the connection (the table above).
bool reject_closes_connection(RejectReason reason);

using RejectCounts = std::array<uint64_t, static_cast<size_t>(RejectReason::kCount)>;

class StreamReader {
 public:
  explicit StreamReader(DecodeOptions options = {});

  void feed(const uint8_t* data, size_t size);
  // Frames and decodes the next buffered message into `out` (only touched on kMessage).
  // After a closing rejection the reader stays failed: next() keeps returning it.
  ReadOutcome next(Message& out);
  // Call when the peer closed: counts kTruncated if a partial message was buffered.
  ReadOutcome finish();
  // Drops buffered bytes and the failed state (for a new connection). Counters are kept.
  void reset();

  size_t buffered() const { return buffer_.size() - start_; }
  const RejectCounts& rejects() const { return rejects_; }
  uint64_t total_rejects() const;
  uint64_t messages() const { return messages_; }
  uint64_t unknown_types() const { return unknown_types_; }
  const DecodeOptions& options() const { return options_; }

 private:
  ReadOutcome reject(RejectReason reason, Status status, uint16_t version);
  void compact();

  DecodeOptions options_;
  std::vector<uint8_t> buffer_;
  size_t start_ = 0;             // first unconsumed byte in buffer_
  bool failed_ = false;
  ReadOutcome failure_;
  RejectCounts rejects_{};
  uint64_t messages_ = 0;
  uint64_t unknown_types_ = 0;
};

}  // namespace um::igtl
