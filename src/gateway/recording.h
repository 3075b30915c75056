// File: src/gateway/recording.h
// Purpose: the `--record FILE` format: every processed frame with its result, so a session can be
// replayed offline through the pipeline (`ultramotion replay FILE`) for regression checks and
// for clinicians' recordings. Hand-written because it is twenty lines of fixed fields; a
// safetensors file per frame would scatter one session over thousands of files.
//
// Format (all integers little-endian; f32 = IEEE float32):
//   file    := "UMREC01\n" record* end
//   record  := kind u32 (1 = frame+result, 2 = end) | payload size u32 | payload | crc32 u32
//              (zlib CRC-32 of the payload: a torn or corrupted record is detected, never parsed)
//   frame+result payload:
//     id u64 | width i32 | height i32 | source timestamp i64 (UTC ns) | receive time i64
//     (monotonic ns) | spacing f32[3] | direction f32[9] (axis by axis) | centre f32[3] |
//     coordinate system u8 | device name: length u16, bytes | pixels u8[width*height]
//     | detected u8 | detector_ran u8 | state u8 | state_changed u8 | box f32[4] | score f32
//     | mask_iou_prediction f32 | quality f32[5] (sharpness, contrast, continuity, stability,
//     combined) | mask_area i64 | timings i64[10] (StageTimings in declaration order)
//     | mask length u32 (0 or width*height) | mask u8[mask length]
//   end payload := record count u64 (frame+result records before it)
// A file is COMPLETE when it ends with an end record whose count matches; the writer flushes
// every record, so even a killed process leaves every record before the last one readable.
//
// Usage:
//   UM_ASSIGN_OR_RETURN(auto w, RecordingWriter::open("session.umrec"));
//   UM_RETURN_IF_ERROR(w->write(frame, result));  ...  UM_RETURN_IF_ERROR(w->close());
//   UM_ASSIGN_OR_RETURN(auto r, RecordingReader::open("session.umrec"));
//   while (true) { UM_ASSIGN_OR_RETURN(auto rec, r->next()); if (!rec) break; use(*rec); }
//   r->complete();   // end record seen
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/frame.h"

namespace um::gateway {

inline constexpr char kRecordingMagic[8] = {'U', 'M', 'R', 'E', 'C', '0', '1', '\n'};

struct RecordedFrame {
  pipeline::Frame frame;
  pipeline::FrameResult result;  // weight maps and low-res logits are not recorded
};

class RecordingWriter {
 public:
  // Creates/truncates `path` and writes the magic. kUnavailable when it cannot be created.
  static Result<std::unique_ptr<RecordingWriter>> open(const std::string& path);
  ~RecordingWriter();  // closes (writing the end record) if close() was not called

  Status write(const pipeline::Frame& frame, const pipeline::FrameResult& result);
  // Writes the end record, flushes and syncs. Idempotent.
  Status close();
  uint64_t records() const { return records_; }
  const std::string& path() const { return path_; }

 private:
  RecordingWriter(std::FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  Status write_record(uint32_t kind, const std::vector<uint8_t>& payload);

  std::FILE* file_;
  std::string path_;
  uint64_t records_ = 0;
  std::vector<uint8_t> buf_;  // reused payload buffer
};

class RecordingReader {
 public:
  // Reads the whole file (recordings are replayed offline). kNotFound / kDataLoss (bad magic).
  static Result<std::unique_ptr<RecordingReader>> open(const std::string& path);

  // The next frame+result, or nullopt after the end record. kDataLoss names the record index
  // and the problem (truncated, bad CRC, inconsistent sizes, end count mismatch).
  Result<std::optional<RecordedFrame>> next();
  bool complete() const { return complete_; }
  uint64_t records_read() const { return read_; }

 private:
  explicit RecordingReader(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::vector<uint8_t> bytes_;
  size_t pos_ = sizeof(kRecordingMagic);
  uint64_t read_ = 0;
  bool complete_ = false;
};

}  // namespace um::gateway
