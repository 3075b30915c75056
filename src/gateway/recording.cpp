// The recording file format of recording.h: writer (flushes per record) and validating reader.
#include "gateway/recording.h"

#include <unistd.h>
#include <zlib.h>

#include <cstring>

#include "io/file_bytes.h"

namespace um::gateway {
namespace {

constexpr uint32_t kKindFrame = 1;
constexpr uint32_t kKindEnd = 2;
// A frame record is at most 2048*2048 pixels + the same for the mask + a few hundred bytes.
constexpr uint32_t kMaxPayload = 2u * 2048u * 2048u + 4096u;

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));  // host is little-endian (io/file_bytes.h)
}

void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}

uint32_t crc32_of(const uint8_t* p, size_t n) {
  return static_cast<uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), p, static_cast<uInt>(n)));
}

void encode_frame(const pipeline::Frame& f, const pipeline::FrameResult& r,
                  std::vector<uint8_t>& out) {
  put<uint64_t>(out, f.id);
  put<int32_t>(out, f.width);
  put<int32_t>(out, f.height);
  put<int64_t>(out, f.source_timestamp_ns);
  put<int64_t>(out, f.receive_time_ns);
  for (float s : f.geometry.spacing) put<float>(out, s);
  for (const auto& axis : f.geometry.direction)
    for (float v : axis) put<float>(out, v);
  for (float o : f.geometry.origin) put<float>(out, o);
  put<uint8_t>(out, f.geometry.coordinate_system);
  const uint16_t name_len = static_cast<uint16_t>(std::min<size_t>(f.device_name.size(), 65535));
  put<uint16_t>(out, name_len);
  put_bytes(out, f.device_name.data(), name_len);
  put_bytes(out, f.pixels.data(), f.pixels.size());

  put<uint8_t>(out, r.detected);
  put<uint8_t>(out, r.detector_ran);
  put<uint8_t>(out, static_cast<uint8_t>(r.state));
  put<uint8_t>(out, r.state_changed);
  for (float v : {r.box.x0, r.box.y0, r.box.x1, r.box.y1, r.box.score, r.mask_iou_prediction})
    put<float>(out, v);
  const auto& q = r.quality;
  for (float v : {q.sharpness, q.contrast, q.continuity, q.stability, q.combined})
    put<float>(out, v);
  put<int64_t>(out, r.mask_area);
  const auto& t = r.timings;
  for (int64_t v : {t.preprocess_ns, t.detector_ns, t.encoder_ns, t.decoder_ns, t.weights_ns,
                    t.quality_ns, t.readback_ns, t.total_ns, t.start_ns, t.end_ns})
    put<int64_t>(out, v);
  put<uint32_t>(out, static_cast<uint32_t>(r.mask.size()));
  put_bytes(out, r.mask.data(), r.mask.size());
}

Status decode_frame(io::ByteCursor& c, RecordedFrame* out) {
  pipeline::Frame& f = out->frame;
  pipeline::FrameResult& r = out->result;
  int32_t w = 0, h = 0;
  UM_RETURN_IF_ERROR(c.read_le(&f.id, "frame id"));
  UM_RETURN_IF_ERROR(c.read_le(&w, "width"));
  UM_RETURN_IF_ERROR(c.read_le(&h, "height"));
  if (w < pipeline::kMinFrameSide || w > pipeline::kMaxFrameSide ||
      h < pipeline::kMinFrameSide || h > pipeline::kMaxFrameSide)
    return data_loss("frame size " + std::to_string(w) + "x" + std::to_string(h) +
                     " is outside 128..2048");
  f.width = w;
  f.height = h;
  UM_RETURN_IF_ERROR(c.read_le(&f.source_timestamp_ns, "source timestamp"));
  UM_RETURN_IF_ERROR(c.read_le(&f.receive_time_ns, "receive time"));
  // Through a local float: GCC 12 misreads range-for writes into std::array members here
  // as overflows (-Wstringop-overflow false positive).
  auto read_floats = [&c](float* dst, int n, const char* what) -> Status {
    for (int i = 0; i < n; ++i) {
      float v = 0;
      UM_RETURN_IF_ERROR(c.read_le(&v, what));
      dst[i] = v;
    }
    return Status::Ok();
  };
  UM_RETURN_IF_ERROR(read_floats(f.geometry.spacing.data(), 3, "spacing"));
  for (auto& axis : f.geometry.direction)
    UM_RETURN_IF_ERROR(read_floats(axis.data(), 3, "direction"));
  UM_RETURN_IF_ERROR(read_floats(f.geometry.origin.data(), 3, "centre"));
  UM_RETURN_IF_ERROR(c.read_u8(&f.geometry.coordinate_system, "coordinate system"));
  uint16_t name_len = 0;
  UM_RETURN_IF_ERROR(c.read_le(&name_len, "device name length"));
  UM_RETURN_IF_ERROR(c.read_string(name_len, &f.device_name, "device name"));
  const size_t n = static_cast<size_t>(w) * h;
  const uint8_t* p = nullptr;
  UM_RETURN_IF_ERROR(c.read_bytes(n, &p, "pixels"));
  f.pixels.assign(p, p + n);

  uint8_t detected = 0, ran = 0, state = 0, changed = 0;
  UM_RETURN_IF_ERROR(c.read_u8(&detected, "detected"));
  UM_RETURN_IF_ERROR(c.read_u8(&ran, "detector_ran"));
  UM_RETURN_IF_ERROR(c.read_u8(&state, "state"));
  UM_RETURN_IF_ERROR(c.read_u8(&changed, "state_changed"));
  if (state > 2) return data_loss("visibility state " + std::to_string(state) + " is unknown");
  r.frame_id = f.id;
  r.width = w;
  r.height = h;
  r.detected = detected != 0;
  r.detector_ran = ran != 0;
  r.state = static_cast<pipeline::VisibilityState>(state);
  r.state_changed = changed != 0;
  for (float* v : {&r.box.x0, &r.box.y0, &r.box.x1, &r.box.y1, &r.box.score,
                   &r.mask_iou_prediction})
    UM_RETURN_IF_ERROR(c.read_le(v, "box"));
  auto& q = r.quality;
  for (float* v : {&q.sharpness, &q.contrast, &q.continuity, &q.stability, &q.combined})
    UM_RETURN_IF_ERROR(c.read_le(v, "quality"));
  UM_RETURN_IF_ERROR(c.read_le(&r.mask_area, "mask area"));
  auto& t = r.timings;
  for (int64_t* v : {&t.preprocess_ns, &t.detector_ns, &t.encoder_ns, &t.decoder_ns,
                     &t.weights_ns, &t.quality_ns, &t.readback_ns, &t.total_ns, &t.start_ns,
                     &t.end_ns})
    UM_RETURN_IF_ERROR(c.read_le(v, "timings"));
  uint32_t mask_len = 0;
  UM_RETURN_IF_ERROR(c.read_le(&mask_len, "mask length"));
  if (mask_len != 0 && mask_len != n)
    return data_loss("mask length " + std::to_string(mask_len) + " is neither 0 nor " +
                     std::to_string(n));
  UM_RETURN_IF_ERROR(c.read_bytes(mask_len, &p, "mask"));
  r.mask.assign(p, p + mask_len);
  if (!c.at_end()) return data_loss(std::to_string(c.remaining()) + " unexpected trailing bytes");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<RecordingWriter>> RecordingWriter::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return unavailable("cannot create recording '" + path + "': " + std::strerror(errno));
  if (std::fwrite(kRecordingMagic, 1, sizeof kRecordingMagic, f) != sizeof kRecordingMagic) {
    std::fclose(f);
    return data_loss("cannot write recording '" + path + "'");
  }
  std::fflush(f);
  return std::unique_ptr<RecordingWriter>(new RecordingWriter(f, path));
}

RecordingWriter::~RecordingWriter() { close().ignore_error(); }

Status RecordingWriter::write_record(uint32_t kind, const std::vector<uint8_t>& payload) {
  if (!file_) return failed_precondition("recording '" + path_ + "' is closed");
  const uint32_t head[2] = {kind, static_cast<uint32_t>(payload.size())};
  const uint32_t crc = crc32_of(payload.data(), payload.size());
  bool ok = std::fwrite(head, sizeof head, 1, file_) == 1;
  ok = ok && (payload.empty() || std::fwrite(payload.data(), payload.size(), 1, file_) == 1);
  ok = ok && std::fwrite(&crc, sizeof crc, 1, file_) == 1;
  // Flush each record so a process killed mid-session leaves every earlier record intact.
  ok = ok && std::fflush(file_) == 0;
  if (!ok) return data_loss("writing recording '" + path_ + "' failed: " + std::strerror(errno));
  return Status::Ok();
}

Status RecordingWriter::write(const pipeline::Frame& frame, const pipeline::FrameResult& result) {
  buf_.clear();
  encode_frame(frame, result, buf_);
  UM_RETURN_IF_ERROR(write_record(kKindFrame, buf_));
  ++records_;
  return Status::Ok();
}

Status RecordingWriter::close() {
  if (!file_) return Status::Ok();
  buf_.clear();
  put<uint64_t>(buf_, records_);
  Status s = write_record(kKindEnd, buf_);
  ::fsync(::fileno(file_));
  if (std::fclose(file_) != 0 && s.ok()) s = data_loss("closing recording '" + path_ + "' failed");
  file_ = nullptr;
  return s;
}

Result<std::unique_ptr<RecordingReader>> RecordingReader::open(const std::string& path) {
  UM_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, io::read_file_bytes(path));
  if (bytes.size() < sizeof kRecordingMagic ||
      std::memcmp(bytes.data(), kRecordingMagic, sizeof kRecordingMagic) != 0)
    return data_loss("'" + path + "' is not an UltraMotion recording (bad magic)");
  return std::unique_ptr<RecordingReader>(new RecordingReader(std::move(bytes)));
}

Result<std::optional<RecordedFrame>> RecordingReader::next() {
  if (complete_) return std::optional<RecordedFrame>();
  const std::string where = "recording record " + std::to_string(read_);
  io::ByteCursor c(bytes_.data() + pos_, bytes_.size() - pos_, where);
  if (c.at_end())
    return data_loss(where + ": file ends without an end record (incomplete recording)");
  uint32_t kind = 0, size = 0, crc = 0;
  UM_RETURN_IF_ERROR(c.read_le(&kind, "record kind"));
  UM_RETURN_IF_ERROR(c.read_le(&size, "payload size"));
  if (size > kMaxPayload) return data_loss(where + ": payload size " + std::to_string(size) +
                                           " exceeds the largest possible frame record");
  const uint8_t* payload = nullptr;
  UM_RETURN_IF_ERROR(c.read_bytes(size, &payload, "payload"));
  UM_RETURN_IF_ERROR(c.read_le(&crc, "crc32"));
  if (crc32_of(payload, size) != crc) return data_loss(where + ": CRC-32 mismatch");
  pos_ += c.pos();
  io::ByteCursor pc(payload, size, where);
  if (kind == kKindEnd) {
    uint64_t count = 0;
    UM_RETURN_IF_ERROR(pc.read_le(&count, "record count"));
    if (count != read_)
      return data_loss(where + ": end record counts " + std::to_string(count) +
                       " frames, the file holds " + std::to_string(read_));
    complete_ = true;
    return std::optional<RecordedFrame>();
  }
  if (kind != kKindFrame) return data_loss(where + ": unknown record kind " + std::to_string(kind));
  RecordedFrame rec;
  UM_RETURN_IF_ERROR_CTX(decode_frame(pc, &rec), where);
  ++read_;
  return std::optional<RecordedFrame>(std::move(rec));
}

}  // namespace um::gateway
