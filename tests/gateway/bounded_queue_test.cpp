// Tests for src/gateway/bounded_queue.h: the three full-queue policies, drop counting with
// reasons, drain-all, close() waking waiters, and a producer/consumer run that loses nothing
// except counted drops.
#include "gateway/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace um::gateway {
namespace {

using std::chrono::milliseconds;

TEST(BoundedQueue, DropOldestEvictsOldestAndCountsIt) {
  BoundedQueue<int> q("tx", 3, QueuePolicy::kDropOldest);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(q.push(i));
  QueueStats s = q.stats();
  EXPECT_EQ(s.pushed, 5u);
  EXPECT_EQ(s.drops(DropReason::kEvictedOldest), 2u);
  EXPECT_EQ(s.depth, 3u);
  EXPECT_EQ(s.max_depth, 3u);
  EXPECT_EQ(*q.pop(milliseconds(0)), 2);
  EXPECT_EQ(*q.pop(milliseconds(0)), 3);
  EXPECT_EQ(*q.pop(milliseconds(0)), 4);
  EXPECT_FALSE(q.pop(milliseconds(0)).has_value());
}

TEST(BoundedQueue, TakeLatestHandsOutNewestAndSupersedesTheRest) {
  BoundedQueue<int> q("rx", 2, QueuePolicy::kTakeLatest);
  q.push(1);
  q.push(2);
  q.push(3);  // evicts 1
  auto v = q.pop(milliseconds(0));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 3);  // newest wins; 2 is superseded
  QueueStats s = q.stats();
  EXPECT_EQ(s.drops(DropReason::kEvictedOldest), 1u);
  EXPECT_EQ(s.drops(DropReason::kSuperseded), 1u);
  EXPECT_EQ(s.popped, 1u);
  EXPECT_EQ(s.depth, 0u);
  EXPECT_EQ(s.total_dropped(), 2u);
}

TEST(BoundedQueue, RejectRefusesNewItemsWhenFull) {
  BoundedQueue<int> q("rec", 2, QueuePolicy::kReject);
  EXPECT_TRUE(q.push(1));
  EXPECT_TRUE(q.push(2));
  EXPECT_FALSE(q.push(3));
  EXPECT_EQ(q.stats().drops(DropReason::kRejectedFull), 1u);
  EXPECT_EQ(*q.pop(milliseconds(0)), 1);
  EXPECT_EQ(*q.pop(milliseconds(0)), 2);
}

TEST(BoundedQueue, DrainTakesEverythingOldestFirst) {
  BoundedQueue<int> q("tx", 8, QueuePolicy::kDropOldest);
  for (int i = 0; i < 5; ++i) q.push(i);
  std::vector<int> all = q.drain(milliseconds(0));
  EXPECT_EQ(all, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.stats().popped, 5u);
  EXPECT_TRUE(q.drain(milliseconds(0)).empty());
}

TEST(BoundedQueue, MoveOnlyItems) {
  BoundedQueue<std::unique_ptr<int>> q("m", 2, QueuePolicy::kTakeLatest);
  q.push(std::make_unique<int>(7));
  q.push(std::make_unique<int>(8));
  auto v = q.pop(milliseconds(0));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(**v, 8);
}

TEST(BoundedQueue, DropHookSeesEveryDropWithReason) {
  BoundedQueue<int> q("rx", 2, QueuePolicy::kTakeLatest);
  std::vector<std::pair<DropReason, size_t>> seen;
  q.set_drop_hook([&](DropReason r, size_t n) { seen.emplace_back(r, n); });
  for (int i = 0; i < 4; ++i) q.push(i);  // two evictions
  (void)q.pop(milliseconds(0));             // one superseded
  q.close();
  q.push(9);  // closed
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].first, DropReason::kEvictedOldest);
  EXPECT_EQ(seen[1].first, DropReason::kEvictedOldest);
  EXPECT_EQ(seen[2].first, DropReason::kSuperseded);
  EXPECT_EQ(seen[2].second, 1u);
  EXPECT_EQ(seen[3].first, DropReason::kClosed);
}

TEST(BoundedQueue, CloseWakesABlockedConsumerAndKeepsQueuedItems) {
  BoundedQueue<int> q("x", 4, QueuePolicy::kDropOldest);
  std::atomic<bool> returned{false};
  std::optional<int> got;
  std::thread consumer([&] {
    got = q.pop(std::chrono::hours(1));  // would block for an hour without close()
    returned = true;
  });
  q.close();
  consumer.join();
  EXPECT_TRUE(returned);
  EXPECT_FALSE(got.has_value());
  EXPECT_FALSE(q.push(1));
  EXPECT_EQ(q.stats().drops(DropReason::kClosed), 1u);

  BoundedQueue<int> q2("y", 4, QueuePolicy::kDropOldest);
  q2.push(5);
  q2.close();
  EXPECT_EQ(*q2.pop(std::chrono::hours(1)), 5);  // queued items still come out after close
  EXPECT_FALSE(q2.pop(std::chrono::hours(1)).has_value());
  q2.reopen();
  EXPECT_TRUE(q2.push(6));
}

TEST(BoundedQueue, ProducerConsumerAccountsForEveryItem) {
  // Whatever the interleaving, pushed == popped + drops, and the consumer sees increasing values.
  BoundedQueue<int> q("rx", 2, QueuePolicy::kTakeLatest);
  constexpr int kN = 20000;
  std::vector<int> got;
  std::thread consumer([&] {
    while (auto v = q.pop(std::chrono::hours(1))) got.push_back(*v);
  });
  for (int i = 0; i < kN; ++i) q.push(i);
  q.close();
  consumer.join();
  QueueStats s = q.stats();
  EXPECT_EQ(s.pushed, static_cast<uint64_t>(kN));
  EXPECT_EQ(s.popped, got.size());
  EXPECT_EQ(s.popped + s.total_dropped(), static_cast<uint64_t>(kN));
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), kN - 1);  // the newest item is never lost
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1], got[i]);
  EXPECT_LE(s.max_depth, 2u);
}

}  // namespace
}  // namespace um::gateway
