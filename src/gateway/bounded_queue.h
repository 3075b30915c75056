// File: src/gateway/bounded_queue.h
// Purpose: the one queue type between gateway stages. Capacity and full-queue policy are
// parameters (backpressure is configuration, not code: STYLE.md 2.2); the queue counts its own
// drops, each with a reason, so every lost frame shows up in the metrics.
//
// Policies (SPEC.md section 1):
//   kDropOldest  push into a full queue evicts the oldest item (TX outbox: 8, drop-oldest).
//   kTakeLatest  like kDropOldest on push, and pop() hands out the NEWEST item and drops every
//                older one as superseded (RX slot: 2, latest frame wins).
//   kReject      push into a full queue is refused; the new item is dropped (recorder).
// Consumers wait on a predicate (condition variable), never poll; close() wakes everybody so
// threads can stop: after close(), push() drops with kClosed, pop() still hands out what is
// queued and then returns nullopt.
//
// Usage:
//   BoundedQueue<Frame> slot("rx", 2, QueuePolicy::kTakeLatest);
//   slot.push(std::move(frame));                       // RX thread
//   if (auto f = slot.pop(std::chrono::milliseconds(100))) process(*f);   // worker
//   std::vector<Out> batch = outbox.drain(timeout);    // TX: everything queued, oldest first
//
// Thread-safety: every member is guarded by mu_; all methods may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace um::gateway {

enum class QueuePolicy { kDropOldest, kTakeLatest, kReject };

// Why an item left a queue without being consumed.
enum class DropReason : int {
  kEvictedOldest = 0,  // pushed into a full kDropOldest/kTakeLatest queue: the oldest went
  kSuperseded,         // kTakeLatest pop: an older item was skipped for a newer one
  kRejectedFull,       // pushed into a full kReject queue: the new item went
  kClosed,             // pushed after close()
  kCount
};

inline const char* drop_reason_name(DropReason r) {
  switch (r) {
    case DropReason::kEvictedOldest: return "evicted_oldest";
    case DropReason::kSuperseded: return "superseded";
    case DropReason::kRejectedFull: return "rejected_full";
    case DropReason::kClosed: return "closed";
    default: return "unknown";
  }
}

inline const char* queue_policy_name(QueuePolicy p) {
  switch (p) {
    case QueuePolicy::kDropOldest: return "drop_oldest";
    case QueuePolicy::kTakeLatest: return "take_latest";
    case QueuePolicy::kReject: return "reject";
  }
  return "unknown";
}

struct QueueStats {
  uint64_t pushed = 0;  // accepted by push()
  uint64_t popped = 0;  // handed to a consumer
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> dropped{};
  size_t depth = 0;      // items queued now
  size_t max_depth = 0;  // high-water mark
  uint64_t total_dropped() const {
    uint64_t n = 0;
    for (uint64_t d : dropped) n += d;
    return n;
  }
  uint64_t drops(DropReason r) const { return dropped[static_cast<size_t>(r)]; }
};

template <typename T>
class BoundedQueue {
 public:
  // Called (outside the lock) once per dropped item, e.g. to bump a metric with the reason.
  using DropHook = std::function<void(DropReason, size_t count)>;

  BoundedQueue(std::string name, size_t capacity, QueuePolicy policy)
      : name_(std::move(name)), capacity_(capacity == 0 ? 1 : capacity), policy_(policy) {}

  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  const std::string& name() const { return name_; }
  size_t capacity() const { return capacity_; }
  QueuePolicy policy() const { return policy_; }

  // Install before the producer and consumer threads start.
  void set_drop_hook(DropHook hook) { drop_hook_ = std::move(hook); }

  // Returns true when the item was queued (even if an older one was evicted to make room),
  // false when it was dropped (kReject on a full queue, or the queue is closed).
  bool push(T item) {
    std::optional<DropReason> dropped;
    bool accepted = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        dropped = DropReason::kClosed;
        accepted = false;
      } else if (items_.size() >= capacity_) {
        if (policy_ == QueuePolicy::kReject) {
          dropped = DropReason::kRejectedFull;
          accepted = false;
        } else {
          items_.pop_front();
          dropped = DropReason::kEvictedOldest;
        }
      }
      if (dropped) ++stats_.dropped[static_cast<size_t>(*dropped)];
      if (accepted) {
        items_.push_back(std::move(item));
        ++stats_.pushed;
        stats_.depth = items_.size();
        if (items_.size() > stats_.max_depth) stats_.max_depth = items_.size();
      }
    }
    if (accepted) cv_.notify_one();
    if (dropped && drop_hook_) drop_hook_(*dropped, 1);
    return accepted;
  }

  // Waits up to `timeout` for an item. kTakeLatest hands out the newest and drops the rest as
  // kSuperseded; other policies hand out the oldest. nullopt on timeout, or when closed and empty.
  std::optional<T> pop(std::chrono::nanoseconds timeout) {
    std::optional<T> out;
    size_t superseded = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
      if (items_.empty()) return std::nullopt;
      if (policy_ == QueuePolicy::kTakeLatest) {
        superseded = items_.size() - 1;
        out.emplace(std::move(items_.back()));
        items_.clear();
        stats_.dropped[static_cast<size_t>(DropReason::kSuperseded)] += superseded;
      } else {
        out.emplace(std::move(items_.front()));
        items_.pop_front();
      }
      ++stats_.popped;
      stats_.depth = items_.size();
    }
    if (superseded > 0 && drop_hook_) drop_hook_(DropReason::kSuperseded, superseded);
    return out;
  }

  // Waits up to `timeout` for at least one item, then takes everything queued, oldest first
  // (TX drains all on each wake). Empty on timeout or when closed and empty.
  std::vector<T> drain(std::chrono::nanoseconds timeout) {
    std::vector<T> out;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !items_.empty() || closed_; });
    out.reserve(items_.size());
    for (auto& item : items_) out.push_back(std::move(item));
    items_.clear();
    stats_.popped += out.size();
    stats_.depth = 0;
    return out;
  }

  // Stops the queue: wakes every waiter; later pushes are dropped (kClosed). Idempotent.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // Makes a closed queue usable again (e.g. a gateway restarted in-process), keeping its counters.
  void reopen() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = false;
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }
  QueueStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  const std::string name_;
  const size_t capacity_;
  const QueuePolicy policy_;
  DropHook drop_hook_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;   // guarded by mu_
  bool closed_ = false;   // guarded by mu_
  QueueStats stats_;      // guarded by mu_
};

}  // namespace um::gateway
