// Tests for detector skipping (issue 10): the schedule's rules (detector_schedule.h), the
// tracker's coasting and prediction (tracker.h), and FrameTemporalState's plan_detection /
// observe_tracked (frame_state.h), driven by a scripted detector and segmenter on synthetic
// frames (a bright bone band on a dark background, so every quality score is real and known).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "pipeline/cpu_frame_processor.h"
#include "pipeline/detector_schedule.h"
#include "pipeline/frame_processor.h"
#include "pipeline/frame_state.h"
#include "pipeline/tracker.h"

namespace um::pipeline {
namespace {

constexpr int kW = 200, kH = 160;

// The bone of frame i: a band 80 x 16 px whose left edge moves `speed` px per frame.
Box truth_box(int i, float speed = 2.0f) {
  const float x0 = 40.0f + speed * static_cast<float>(i);
  return Box{x0, 60.0f, x0 + 80.0f, 76.0f, 0.9f};
}

// What the scripted world does on one frame.
struct World {
  Box bone;               // where the bone is (and what D-FINE reports when it runs)
  uint8_t band = 200;     // brightness of the bone band (background 20): lower = worse contrast
  bool fragmented = false;  // the segmenter returns the band as 1-px columns (continuity ~0)
};

Frame render(const World& w, uint64_t id) {
  Frame f;
  f.id = id;
  f.width = kW;
  f.height = kH;
  f.pixels.assign(static_cast<size_t>(kW) * kH, 20);
  for (int y = static_cast<int>(w.bone.y0); y < static_cast<int>(w.bone.y1); ++y)
    for (int x = static_cast<int>(w.bone.x0); x < static_cast<int>(w.bone.x1); ++x)
      f.pixels[static_cast<size_t>(y) * kW + x] = w.band;
  return f;
}

// The scripted segmenter: the pixels of the bone band inside the prompt box.
std::vector<uint8_t> segment(const World& w, const Box& prompt) {
  std::vector<uint8_t> m(static_cast<size_t>(kW) * kH, 0);
  const int x0 = static_cast<int>(std::max(w.bone.x0, prompt.x0));
  const int x1 = static_cast<int>(std::min(w.bone.x1, prompt.x1));
  const int y0 = static_cast<int>(std::max(w.bone.y0, prompt.y0));
  const int y1 = static_cast<int>(std::min(w.bone.y1, prompt.y1));
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x)
      if (!w.fragmented || x % 4 == 0) m[static_cast<size_t>(y) * kW + x] = 1;
  return m;
}

struct Step {
  FrameResult r;
  DetectionPlan plan;
};

// One frame through FrameTemporalState exactly as a processor drives it.
class Driver {
 public:
  explicit Driver(ProcessorConfig cfg) : state_(cfg) {}
  Step step(const World& w, bool use_plan = true) {
    const Frame f = render(w, id_++);
    Step s;
    if (use_plan) s.plan = state_.plan_detection(f.width, f.height);
    return complete(w, f, s.plan);
  }
  DetectionPlan plan() { return state_.plan_detection(kW, kH); }
  Step complete(const World& w, const DetectionPlan& plan) {
    return complete(w, render(w, id_++), plan);
  }
  FrameTemporalState& state() { return state_; }

 private:
  Step complete(const World& w, const Frame& f, const DetectionPlan& plan) {
    Step s;
    s.plan = plan;
    FrameResult& r = s.r;
    r.frame_id = f.id;
    r.width = f.width;
    r.height = f.height;
    const bool seg = plan.run_detector ? state_.observe_detection(r, true, w.bone)
                                       : state_.observe_tracked(r, plan);
    if (seg) {
      r.mask = segment(w, r.box);
      state_.observe_mask(r, f);
    }
    state_.finish(r);
    return s;
  }
  FrameTemporalState state_;
  uint64_t id_ = 0;
};

ProcessorConfig skip_every(int k) {
  ProcessorConfig c;
  c.detector_skip.every = k;
  return c;
}

std::vector<int> detector_frames(const std::vector<Step>& steps) {
  std::vector<int> out;
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].r.detector_ran) out.push_back(static_cast<int>(i));
  return out;
}

// ---- tracker: coasting and prediction ------------------------------------------------------

TEST(TrackerCoast, CoastingAgesTracksWithoutConfirmingThem) {
  Tracker t;
  ASSERT_TRUE(t.update(std::vector<Box>{truth_box(0)}).ok());
  ASSERT_TRUE(t.update(std::vector<Box>{truth_box(1)}).ok());
  const Track before = t.tracks().at(0);
  const TemporalStability stab = t.stability();
  t.coast();
  t.coast();
  const Track& after = t.tracks().at(0);
  EXPECT_EQ(after.hits, before.hits);         // no self-confirmation
  EXPECT_EQ(after.misses, 0);                 // not a miss either: nobody looked
  EXPECT_EQ(after.coasted, 2);
  EXPECT_EQ(after.age, before.age + 2);
  EXPECT_FLOAT_EQ(after.box.x0, before.box.x0);
  EXPECT_FLOAT_EQ(t.stability().stability, stab.stability);
  EXPECT_FALSE(t.stability().predicted);
}

TEST(TrackerCoast, PredictionIsConstantCentreVelocity) {
  Tracker t;
  ASSERT_TRUE(t.update(std::vector<Box>{truth_box(0)}).ok());
  const Track first = t.tracks().at(0);
  EXPECT_FLOAT_EQ(predict_box(first, 3).x0, first.box.x0);  // one match: no velocity yet
  ASSERT_TRUE(t.update(std::vector<Box>{truth_box(1)}).ok());
  const Track& tr = t.tracks().at(0);
  const Box p = predict_box(tr, 2);
  EXPECT_FLOAT_EQ(p.x0, truth_box(3).x0);
  EXPECT_FLOAT_EQ(p.x1, truth_box(3).x1);
  EXPECT_FLOAT_EQ(p.y0, truth_box(3).y0);
  EXPECT_FLOAT_EQ(p.score, 0.9f);
  EXPECT_FLOAT_EQ(predict_box(tr, 0).x0, tr.box.x0);
}

TEST(TrackerCoast, AMatchAfterCoastingComparesWithThePrediction) {
  Tracker t;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(t.update(std::vector<Box>{truth_box(i)}).ok());
  t.coast();
  t.coast();
  Result<TrackerUpdate> u = t.update(std::vector<Box>{truth_box(4)});
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->track_of_detection[0], 1);
  const Track& tr = t.tracks().at(0);
  EXPECT_EQ(tr.frames_between, 3);  // frames 1 -> 4
  EXPECT_EQ(tr.coasted, 0);
  EXPECT_EQ(tr.hits, 3);
  EXPECT_TRUE(u->stability.predicted);
  EXPECT_NEAR(u->stability.box_iou, 1.0f, 1e-6);  // the prediction held exactly
  // Velocity now measured over the 3 frames: still 2 px per frame.
  EXPECT_FLOAT_EQ(predict_box(tr, 1).x0, truth_box(5).x0);
}

TEST(TrackerCoast, WithoutCoastingTheSignalIsUnchanged) {
  Tracker t;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(t.update(std::vector<Box>{truth_box(i)}).ok());
  EXPECT_FALSE(t.stability().predicted);
  EXPECT_FLOAT_EQ(t.stability().box_iou, box_iou(truth_box(2), truth_box(1)));
}

// ---- FrameTemporalState + schedule ----------------------------------------------------------

TEST(DetectorSkip, EveryOneIsIdenticalToNoPlan) {
  Driver planned(skip_every(1)), legacy(skip_every(1));
  for (int i = 0; i < 12; ++i) {
    World w{truth_box(i), static_cast<uint8_t>(i == 6 ? 60 : 200)};
    const Step a = planned.step(w, /*use_plan=*/true);
    const Step b = legacy.step(w, /*use_plan=*/false);
    EXPECT_TRUE(a.plan.run_detector);
    EXPECT_STREQ(a.plan.reason, "skip_off");
    EXPECT_TRUE(a.r.detector_ran);
    EXPECT_EQ(a.r.detected, b.r.detected);
    EXPECT_EQ(a.r.state, b.r.state);
    EXPECT_EQ(a.r.state_changed, b.r.state_changed);
    EXPECT_EQ(a.r.track_id, b.r.track_id);
    EXPECT_EQ(a.r.mask, b.r.mask);
    EXPECT_FLOAT_EQ(a.r.box.x0, b.r.box.x0);
    EXPECT_FLOAT_EQ(a.r.quality.combined, b.r.quality.combined);
    EXPECT_FLOAT_EQ(a.r.quality.stability, b.r.quality.stability);
  }
}

TEST(DetectorSkip, StableTargetRunsTheDetectorEveryThirdFrame) {
  Driver d(skip_every(3));
  std::vector<Step> steps;
  for (int i = 0; i < 15; ++i) steps.push_back(d.step(World{truth_box(i)}));
  // Frame 0: nothing tracked yet. Frames 1 and 2: forced by the LOST -> RELOCALIZING ->
  // VISIBLE changes (and the track needs two matches for a stability). Then every 3rd frame.
  EXPECT_EQ(detector_frames(steps), (std::vector<int>{0, 1, 2, 5, 8, 11, 14}));
  EXPECT_STREQ(steps[0].plan.reason, "no_track");
  EXPECT_STREQ(steps[1].plan.reason, "forced_state_change");
  EXPECT_STREQ(steps[2].plan.reason, "forced_state_change");
  EXPECT_STREQ(steps[3].plan.reason, "tracked");
  EXPECT_STREQ(steps[5].plan.reason, "scheduled");
  for (int i = 2; i < 15; ++i) {
    const FrameResult& r = steps[i].r;
    EXPECT_EQ(r.state, VisibilityState::kVisible) << i;
    EXPECT_TRUE(r.detected) << i;
    EXPECT_EQ(r.track_id, 1) << i;
    // Tracked frames follow the motion: the constant-velocity prediction is exact here.
    EXPECT_NEAR(r.box.x0, truth_box(i).x0, 1e-3) << i;
    EXPECT_NEAR(r.box.y1, truth_box(i).y1, 1e-3) << i;
    if (!r.detector_ran) {
      EXPECT_FLOAT_EQ(r.box.score, 0.9f);  // the track's last detection score
      EXPECT_EQ(r.mask_area, 80 * 16);     // the mask is real (segmented from that box)
      EXPECT_GT(r.quality.combined, 0.8f);
    }
  }
}

TEST(DetectorSkip, AQualityDropForcesADetectionAndRestartsTheCount) {
  Driver d(skip_every(3));
  std::vector<Step> steps;
  for (int i = 0; i < 12; ++i) {
    World w{truth_box(i)};
    // Frame 3 (tracked): a dimmer echo, contrast (50-20)/(50+20) = 0.43 instead of 0.82:
    // combined quality falls by ~0.13 (> 0.1) but stays above theta_off (still VISIBLE).
    if (i == 3) w.band = 50;
    steps.push_back(d.step(w));
  }
  ASSERT_FALSE(steps[3].r.detector_ran);
  EXPECT_EQ(steps[3].r.state, VisibilityState::kVisible);
  EXPECT_FALSE(steps[3].r.state_changed);
  EXPECT_GT(steps[2].r.quality.combined - steps[3].r.quality.combined, 0.1f);
  EXPECT_STREQ(steps[4].plan.reason, "forced_quality_drop");
  // The count restarts at the forced detection: 4, then 7, 10.
  EXPECT_EQ(detector_frames(steps), (std::vector<int>{0, 1, 2, 4, 7, 10}));
}

TEST(DetectorSkip, AStateChangeForcesADetection) {
  Driver d(skip_every(3));
  std::vector<Step> steps;
  for (int i = 0; i < 6; ++i) {
    World w{truth_box(i)};
    if (i == 4) w.fragmented = true;  // a broken mask on a tracked frame: VISIBLE is left
    steps.push_back(d.step(w));
  }
  ASSERT_FALSE(steps[4].r.detector_ran);
  EXPECT_EQ(steps[4].r.state, VisibilityState::kRelocalizing);
  EXPECT_TRUE(steps[4].r.state_changed);
  EXPECT_TRUE(steps[5].r.detector_ran);
  EXPECT_STREQ(steps[5].plan.reason, "forced_state_change");
}

TEST(DetectorSkip, UnstableTargetIsDetectedEveryFrame) {
  Driver d(skip_every(3));
  for (int i = 0; i < 10; ++i) {
    // The box jumps 30 px back and forth: consecutive IoU (50/110 = 0.45) < min_box_iou 0.8.
    Box b = truth_box(0);
    if (i % 2) {
      b.x0 += 30;
      b.x1 += 30;
    }
    const Step s = d.step(World{b});
    EXPECT_TRUE(s.r.detector_ran) << i;
    if (i >= 3) EXPECT_STREQ(s.plan.reason, "unstable") << i;
  }
}

TEST(DetectorSkip, NoSkippingUnlessVisible) {
  Driver d(skip_every(3));
  for (int i = 0; i < 8; ++i) {
    World w{truth_box(i)};
    w.fragmented = true;  // a stable box, but a broken mask: RELOCALIZING, never VISIBLE
    const Step s = d.step(w);
    EXPECT_TRUE(s.r.detector_ran) << i;
    EXPECT_NE(s.r.state, VisibilityState::kVisible) << i;
    if (i >= 2) EXPECT_STREQ(s.plan.reason, "not_visible") << i;
  }
}

TEST(DetectorSkip, LowScoreTargetIsDetectedEveryFrame) {
  Driver d(skip_every(3));
  for (int i = 0; i < 8; ++i) {
    Box b = truth_box(i);
    b.score = 0.55f;  // confident enough to count (tau_conf 0.5), below min_score 0.6
    const Step s = d.step(World{b});
    EXPECT_TRUE(s.r.detector_ran) << i;
    EXPECT_TRUE(s.r.detected) << i;
  }
}

TEST(DetectorSkip, ANewFrameSizeRunsTheDetector) {
  Driver d(skip_every(5));
  for (int i = 0; i < 4; ++i) d.step(World{truth_box(i)});
  EXPECT_FALSE(d.plan().run_detector);  // would skip at kW x kH ...
  d.state().frame_failed();             // (that plan is dropped)
  const DetectionPlan p = d.state().plan_detection(kW + 8, kH);
  EXPECT_TRUE(p.run_detector);          // ... but not at another size
  EXPECT_STREQ(p.reason, "new_size");
}

TEST(DetectorSkip, ResetForgetsTheTrack) {
  Driver d(skip_every(3));
  for (int i = 0; i < 4; ++i) d.step(World{truth_box(i)});
  d.state().reset();
  const DetectionPlan p = d.plan();
  EXPECT_TRUE(p.run_detector);
  EXPECT_STREQ(p.reason, "no_track");
}

TEST(DetectorSkip, PlansMadeWithAFrameInFlightPredictFarEnough) {
  Driver d(skip_every(4));
  for (int i = 0; i < 3; ++i) d.step(World{truth_box(i)});  // 0, 1, 2 detected (stable now)
  // Frames 3 and 4 are planned before frame 3 completes (two in flight).
  const DetectionPlan p3 = d.plan();
  const DetectionPlan p4 = d.plan();
  ASSERT_FALSE(p3.run_detector);
  ASSERT_FALSE(p4.run_detector);
  EXPECT_NEAR(p3.box.x0, truth_box(3).x0, 1e-3);
  EXPECT_NEAR(p4.box.x0, truth_box(4).x0, 1e-3);  // two frames past the last match
  d.complete(World{truth_box(3)}, p3);
  const DetectionPlan p5 = d.plan();  // frame 4 still in flight
  EXPECT_NEAR(p5.box.x0, truth_box(5).x0, 1e-3);
  d.complete(World{truth_box(4)}, p4);
  d.complete(World{truth_box(5)}, p5);
  const DetectionPlan p6 = d.plan();  // the count to 4 runs in plan order: 3, 4, 5 skipped
  EXPECT_TRUE(p6.run_detector);
  EXPECT_STREQ(p6.reason, "scheduled");
}

TEST(DetectorSkip, PredictionIsClampedToTheFrame) {
  Driver d(skip_every(10));
  // Moving right 30 px a frame: the band reaches the right edge (kW = 200) quickly.
  std::vector<Step> steps;
  for (int i = 0; i < 6; ++i) {
    Box b = truth_box(i, 30.0f);
    b.x1 = std::min<float>(b.x1, kW);
    b.x0 = std::min<float>(b.x0, kW);
    steps.push_back(d.step(World{b}));
  }
  for (const Step& s : steps) {
    EXPECT_GE(s.r.box.x0, 0.0f);
    EXPECT_LE(s.r.box.x1, static_cast<float>(kW));
    EXPECT_LE(s.r.box.x0, s.r.box.x1);
  }
}

TEST(DetectorSkip, ObserveTrackedRejectsADetectorPlan) {
  FrameTemporalState st(skip_every(3));
  FrameResult r;
  DetectionPlan run_plan;  // run_detector = true
  EXPECT_THROW(st.observe_tracked(r, run_plan), Error);
}

TEST(DetectorSkipConfig, ValidationNamesTheField) {
  EXPECT_TRUE(validate_detector_skip_config(DetectorSkipConfig{}).ok());
  struct Case {
    DetectorSkipConfig c;
    const char* field;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Case> cases = {
      {{0, 0.8f, 0.6f, 0.1f}, "every"},
      {{-3, 0.8f, 0.6f, 0.1f}, "every"},
      {{3, 1.5f, 0.6f, 0.1f}, "min_box_iou"},
      {{3, nan, 0.6f, 0.1f}, "min_box_iou"},
      {{3, 0.8f, -0.1f, 0.1f}, "min_score"},
      {{3, 0.8f, 0.6f, 2.0f}, "max_quality_drop"},
      {{3, 0.8f, 0.6f, nan}, "max_quality_drop"},
  };
  for (const Case& k : cases) {
    const Status s = validate_detector_skip_config(k.c);
    ASSERT_FALSE(s.ok()) << k.field;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(k.field), std::string::npos) << s.message();
  }
}

TEST(DetectorSkipConfig, TheCpuProcessorRejectsABadConfigBeforeLoading) {
  ProcessorOptions opt;
  opt.allow_synthetic = true;  // no checkpoint needed: the check comes first
  opt.dfine_checkpoint = "/nonexistent/d.pth";
  opt.sam_checkpoint = "/nonexistent/s.pt";
  opt.config.detector_skip.every = 0;
  auto p = CpuFrameProcessor::create(opt);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("every"), std::string::npos) << p.status().to_string();
}

}  // namespace
}  // namespace um::pipeline
