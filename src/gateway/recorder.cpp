// AsyncRecorder: the recording writer behind a reject-when-full queue and its own thread.
#include "gateway/recorder.h"

#include <spdlog/spdlog.h>

namespace um::gateway {

Result<std::unique_ptr<AsyncRecorder>> AsyncRecorder::start(
    const std::string& path, BoundedQueue<RecordedFrame>::DropHook drops, ErrorHook on_error) {
  UM_ASSIGN_OR_RETURN(std::unique_ptr<RecordingWriter> writer, RecordingWriter::open(path));
  std::unique_ptr<AsyncRecorder> r(new AsyncRecorder(std::move(writer), path, std::move(on_error)));
  if (drops) r->queue_.set_drop_hook(std::move(drops));
  r->thread_ = std::thread([p = r.get()] { p->run(); });
  return r;
}

AsyncRecorder::AsyncRecorder(std::unique_ptr<RecordingWriter> writer, std::string path,
                             ErrorHook on_error)
    : writer_(std::move(writer)), path_(std::move(path)), on_error_(std::move(on_error)) {}

AsyncRecorder::~AsyncRecorder() { finish().ignore_error(); }

void AsyncRecorder::submit(const pipeline::Frame& frame, const pipeline::FrameResult& result) {
  RecordedFrame rec;
  rec.frame = frame;
  rec.result.frame_id = result.frame_id;
  rec.result.width = result.width;
  rec.result.height = result.height;
  rec.result.detector_ran = result.detector_ran;
  rec.result.detected = result.detected;
  rec.result.box = result.box;
  rec.result.mask_iou_prediction = result.mask_iou_prediction;
  rec.result.mask = result.mask;
  rec.result.mask_area = result.mask_area;
  rec.result.quality = result.quality;
  rec.result.state = result.state;
  rec.result.state_changed = result.state_changed;
  rec.result.timings = result.timings;
  queue_.push(std::move(rec));
}

void AsyncRecorder::run() {
  for (;;) {
    std::optional<RecordedFrame> rec = queue_.pop(std::chrono::milliseconds(200));
    if (!rec) {
      if (queue_.closed()) return;
      continue;
    }
    try {
      Status s = writer_->write(rec->frame, rec->result);
      if (!s.ok()) {
        if (write_status_.ok()) {
          spdlog::error("[record] {}", s.to_string());
          write_status_ = s;
        }
        throw Error(s);
      }
      written_.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      if (on_error_) on_error_(e);
    }
  }
}

Status AsyncRecorder::finish() {
  if (finished_) return write_status_;
  finished_ = true;
  queue_.close();
  if (thread_.joinable()) thread_.join();
  Status s = writer_->close();
  if (!write_status_.ok()) return write_status_;
  if (s.ok())
    spdlog::info("[record] '{}' complete: {} frames", path_, writer_->records());
  return s;
}

uint64_t AsyncRecorder::written() const { return written_.load(std::memory_order_relaxed); }

}  // namespace um::gateway
