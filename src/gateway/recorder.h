// File: src/gateway/recorder.h
// Purpose: writes the recording (recording.h) on its own thread, so disk latency never delays
// the frame path. The hand-over queue rejects when full (capacity 32): a slow disk loses
// records, counted with reason "rejected_full", instead of holding up inference.
// Usage:
//   UM_ASSIGN_OR_RETURN(auto rec, AsyncRecorder::start("s.umrec", [&](DropReason r, size_t n){..}));
//   rec->submit(frame, result);     // processing thread; copies what it records
//   rec->finish();                  // drains, writes the end record; the file is complete
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "gateway/bounded_queue.h"
#include "gateway/recording.h"

namespace um::gateway {

class AsyncRecorder {
 public:
  using ErrorHook = std::function<void(const std::exception&)>;
  static constexpr size_t kQueueCapacity = 32;

  static Result<std::unique_ptr<AsyncRecorder>> start(const std::string& path,
                                                      BoundedQueue<RecordedFrame>::DropHook drops,
                                                      ErrorHook on_error = nullptr);
  ~AsyncRecorder();  // finish()

  // Queues a copy of the frame (with pixels) and the result (maps other than the mask dropped).
  void submit(const pipeline::Frame& frame, const pipeline::FrameResult& result);
  // Writes what is queued, then the end record; joins the thread. Idempotent.
  Status finish();
  uint64_t written() const;
  const std::string& path() const { return path_; }

 private:
  AsyncRecorder(std::unique_ptr<RecordingWriter> writer, std::string path, ErrorHook on_error);
  void run();

  std::unique_ptr<RecordingWriter> writer_;
  std::string path_;
  ErrorHook on_error_;
  BoundedQueue<RecordedFrame> queue_{"record", kQueueCapacity, QueuePolicy::kReject};
  std::thread thread_;
  std::atomic<uint64_t> written_{0};
  Status write_status_;  // first write error (only touched by the writer thread until joined)
  bool finished_ = false;
};

}  // namespace um::gateway
