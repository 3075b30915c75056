// Tracker (src/pipeline/tracker.h): stable ids, gating, exact (not greedy) association, track
// life cycle, and the temporal-stability signal's documented definition.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "pipeline/tracker.h"

namespace um::pipeline {
namespace {

Box box_at(float cx, float cy, float size, float score) {
  return Box{cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2, score};
}

TEST(TrackerGeometry, IouAndDistance) {
  const Box a{0, 0, 10, 10, 1}, b{5, 0, 15, 10, 1};
  EXPECT_FLOAT_EQ(box_iou(a, a), 1.0f);
  EXPECT_FLOAT_EQ(box_iou(a, b), 50.0f / 150.0f);
  EXPECT_FLOAT_EQ(box_iou(a, Box{20, 20, 30, 30, 1}), 0.0f);
  EXPECT_FLOAT_EQ(normalized_center_distance(a, b), 5.0f / std::hypot(10.0f, 10.0f));
  const Box p{3, 3, 3, 3, 1};
  EXPECT_EQ(normalized_center_distance(p, p), 0.0f);
  EXPECT_TRUE(std::isinf(normalized_center_distance(p, Box{4, 4, 4, 4, 1})));
  EXPECT_EQ(box_iou(p, p), 0.0f);
}

TEST(Tracker, MovingBoxKeepsItsIdAndReportsStability) {
  Tracker tracker;
  for (int f = 0; f < 20; ++f) {
    const float score = f == 10 ? 0.6f : 0.9f;
    const Box det = box_at(100.0f + 3.0f * f, 80.0f, 40.0f, score);
    auto u = tracker.update(std::vector<Box>{det});
    ASSERT_TRUE(u.ok()) << u.status().to_string();
    ASSERT_EQ(u->track_of_detection, std::vector<int>{1}) << "frame " << f;
    const TemporalStability& s = u->stability;
    EXPECT_EQ(s.track_id, 1);
    EXPECT_EQ(s.track_hits, f + 1);
    EXPECT_EQ(s.track_age, f);
    EXPECT_EQ(s.primary_changed, f == 0);
    if (f == 0) {
      EXPECT_FALSE(s.valid) << "no previous box on the first frame";
      EXPECT_EQ(s.stability, 0.0f);
      continue;
    }
    ASSERT_TRUE(s.valid);
    const Box prev = box_at(100.0f + 3.0f * (f - 1), 80.0f, 40.0f, f == 11 ? 0.6f : 0.9f);
    EXPECT_FLOAT_EQ(s.box_iou, box_iou(det, prev));
    EXPECT_FLOAT_EQ(s.score_delta, det.score - prev.score);
    EXPECT_FLOAT_EQ(s.center_shift, normalized_center_distance(det, prev));
    EXPECT_FLOAT_EQ(s.stability, s.box_iou * (1.0f - std::abs(s.score_delta)));
    EXPECT_EQ(s.frames_since_previous, 1);
  }
  EXPECT_EQ(tracker.tracks().size(), 1u);
  EXPECT_LT(tracker.stability().stability, 1.0f);
}

TEST(Tracker, ExactAssignmentBeatsGreedyNearestMatch) {
  // Tracks 1 (centre x=0) and 2 (x=20); detections at x=9 and x=-10. Greedy takes the cheapest
  // pair first (track 1 -> x=9) and strands track 2 (x=-10 is outside its gate). The optimum
  // gives x=9 to track 2 and x=-10 to track 1, keeping both tracks alive.
  Tracker tracker;
  ASSERT_TRUE(tracker.update(std::vector<Box>{box_at(0, 0, 10, 0.9f), box_at(20, 0, 10, 0.9f)}).ok());
  const Box d1 = box_at(9, 0, 10, 0.9f), d2 = box_at(-10, 0, 10, 0.8f);
  const Box t1 = box_at(0, 0, 10, 0.9f), t2 = box_at(20, 0, 10, 0.9f);
  auto cost = [](const Box& a, const Box& b) {
    return normalized_center_distance(a, b) + (1.0f - box_iou(a, b));
  };
  ASSERT_LT(cost(t1, d1), cost(t1, d2));  // greedy's first pick would be (t1, d1)
  ASSERT_GT(normalized_center_distance(t2, d2), 1.0f);  // (t2, d2) is gated out
  auto u = tracker.update(std::vector<Box>{d1, d2});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->track_of_detection, (std::vector<int>{2, 1}));
  EXPECT_EQ(tracker.tracks().size(), 2u);
}

TEST(Tracker, GatingMissesAndTrackDeath) {
  TrackerConfig cfg;
  cfg.max_misses = 2;
  Tracker tracker(cfg);
  ASSERT_TRUE(tracker.update(std::vector<Box>{box_at(50, 50, 20, 0.9f)}).ok());
  // Far away: outside the gate, so it opens track 2 and track 1 misses.
  auto u = tracker.update(std::vector<Box>{box_at(300, 50, 20, 0.9f)});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->track_of_detection, std::vector<int>{2});
  EXPECT_TRUE(u->stability.primary_changed);
  EXPECT_FALSE(u->stability.valid);
  ASSERT_EQ(tracker.tracks().size(), 2u);
  EXPECT_EQ(tracker.tracks()[0].misses, 1);
  // Empty frames: track 1 reaches 3 misses (> max_misses 2) on the 2nd empty frame and goes.
  auto e1 = tracker.update(std::vector<Box>{});
  ASSERT_TRUE(e1.ok());
  EXPECT_EQ(e1->stability.track_id, -1);
  EXPECT_TRUE(e1->stability.primary_changed);  // track 2 -> none
  EXPECT_EQ(tracker.tracks().size(), 2u);
  auto e = tracker.update(std::vector<Box>{});
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->stability.primary_changed);  // none -> none
  ASSERT_EQ(tracker.tracks().size(), 1u);
  EXPECT_EQ(tracker.tracks()[0].id, 2);
  EXPECT_EQ(tracker.tracks()[0].misses, 2);
  // Track 2 is re-acquired after 2 missed frames.
  auto r = tracker.update(std::vector<Box>{box_at(302, 50, 20, 0.85f)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->track_of_detection, std::vector<int>{2});
  EXPECT_TRUE(r->stability.valid);
  EXPECT_EQ(r->stability.frames_since_previous, 3);
  EXPECT_EQ(tracker.tracks()[0].misses, 0);
}

TEST(Tracker, ScoreThresholdsAndPrimaryChoice) {
  TrackerConfig cfg;
  cfg.min_score = 0.2f;
  cfg.new_track_min_score = 0.5f;
  Tracker tracker(cfg);
  auto u = tracker.update(std::vector<Box>{box_at(10, 10, 8, 0.1f), box_at(100, 10, 8, 0.3f),
                                           box_at(200, 10, 8, 0.7f)});
  ASSERT_TRUE(u.ok());
  // 0.1: ignored; 0.3: too weak to open a track; 0.7: track 1.
  EXPECT_EQ(u->track_of_detection, (std::vector<int>{-1, -1, 1}));
  // A weak detection may still CONTINUE an existing track; the primary is the strongest one.
  auto v = tracker.update(std::vector<Box>{box_at(201, 10, 8, 0.3f), box_at(400, 10, 8, 0.9f)});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->track_of_detection, (std::vector<int>{1, 2}));
  EXPECT_EQ(v->stability.track_id, 2);
  EXPECT_FALSE(v->stability.valid);
}

TEST(Tracker, RejectsBadBoxesWithoutChangingState) {
  Tracker tracker;
  ASSERT_TRUE(tracker.update(std::vector<Box>{box_at(10, 10, 8, 0.9f)}).ok());
  auto nan = tracker.update(
      std::vector<Box>{Box{0, 0, std::numeric_limits<float>::quiet_NaN(), 1, 0.9f}});
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.status().code(), StatusCode::kInvalidArgument);
  auto flipped = tracker.update(std::vector<Box>{Box{10, 0, 0, 5, 0.9f}});
  ASSERT_FALSE(flipped.ok());
  EXPECT_NE(flipped.status().message().find("detection 0"), std::string::npos);
  ASSERT_EQ(tracker.tracks().size(), 1u);
  EXPECT_EQ(tracker.tracks()[0].age, 0);
  tracker.reset();
  EXPECT_TRUE(tracker.tracks().empty());
  auto again = tracker.update(std::vector<Box>{box_at(10, 10, 8, 0.9f)});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->track_of_detection, std::vector<int>{1});
}

TEST(Tracker, ConfigValidation) {
  EXPECT_TRUE(validate_tracker_config({}).ok());
  TrackerConfig c;
  c.min_iou = 1.0f;
  EXPECT_EQ(validate_tracker_config(c).code(), StatusCode::kInvalidArgument);
  c = {};
  c.max_center_distance = 0;
  EXPECT_FALSE(validate_tracker_config(c).ok());
  c = {};
  c.weight_iou = -1;
  EXPECT_FALSE(validate_tracker_config(c).ok());
  c = {};
  c.max_misses = -1;
  Tracker bad(c);
  EXPECT_EQ(bad.update(std::vector<Box>{}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace um::pipeline
