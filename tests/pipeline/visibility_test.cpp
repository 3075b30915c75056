// Tests for the visibility state machine, transition by transition (table in visibility.h).
#include "pipeline/visibility.h"

#include <gtest/gtest.h>

namespace um::pipeline {
namespace {

using S = VisibilityState;

// Observations named after the table's conditions (default thresholds 0.5/0.6/0.4/0.5).
VisibilityObservation good() { return {true, 0.9f, 0.8f, 1.0f}; }
VisibilityObservation fair() { return {true, 0.9f, 0.5f, 1.0f}; }   // theta_off <= q < theta_on
VisibilityObservation poor() { return {true, 0.9f, 0.3f, 1.0f}; }   // detected, q < theta_off
VisibilityObservation broken() { return {true, 0.9f, 0.8f, 0.3f}; } // continuity < theta_cont
VisibilityObservation unsure() { return {true, 0.3f, 0.9f, 1.0f}; } // score < tau_conf
VisibilityObservation none() { return {false, 0.0f, 0.0f, 0.0f}; }

// Drives a fresh machine into `target` through legal transitions.
VisibilityMachine at(S target, VisibilityConfig cfg = {}) {
  VisibilityMachine m(cfg);
  if (target == S::kLost) return m;
  m.update(good());  // LOST -> RELOCALIZING
  if (target == S::kRelocalizing) return m;
  m.update(good());  // RELOCALIZING -> VISIBLE
  return m;
}

TEST(Visibility, StartsLost) {
  VisibilityMachine m;
  EXPECT_EQ(m.state(), S::kLost);
  EXPECT_FALSE(m.changed());
}

TEST(Visibility, LostStaysLostWithoutADetection) {
  VisibilityMachine m = at(S::kLost);
  EXPECT_EQ(m.update(none()), S::kLost);
  EXPECT_EQ(m.update(unsure()), S::kLost);
  EXPECT_FALSE(m.changed());
}

TEST(Visibility, LostToRelocalizingOnADetection) {
  for (auto obs : {good(), poor(), broken()}) {
    VisibilityMachine m = at(S::kLost);
    EXPECT_EQ(m.update(obs), S::kRelocalizing);
    EXPECT_TRUE(m.changed());
  }
}

TEST(Visibility, RelocalizingToVisibleOnAGoodFrame) {
  VisibilityMachine m = at(S::kRelocalizing);
  EXPECT_EQ(m.update(good()), S::kVisible);
  EXPECT_TRUE(m.changed());
}

TEST(Visibility, RelocalizingHoldsOnFairPoorOrBrokenFrames) {
  for (auto obs : {fair(), poor(), broken()}) {
    VisibilityMachine m = at(S::kRelocalizing);
    EXPECT_EQ(m.update(obs), S::kRelocalizing);  // entering VISIBLE needs theta_on
    EXPECT_FALSE(m.changed());
  }
}

TEST(Visibility, RelocalizingToLostAfterConsecutiveMisses) {
  VisibilityMachine m = at(S::kRelocalizing);
  EXPECT_EQ(m.update(none()), S::kRelocalizing);   // miss 1
  EXPECT_EQ(m.update(unsure()), S::kRelocalizing); // miss 2 (score < tau_conf is a miss)
  EXPECT_EQ(m.update(none()), S::kLost);           // miss 3 = lost_after_misses
  EXPECT_TRUE(m.changed());
}

TEST(Visibility, ADetectionResetsTheMissCount) {
  VisibilityMachine m = at(S::kRelocalizing);
  m.update(none());
  m.update(none());
  EXPECT_EQ(m.update(poor()), S::kRelocalizing);
  EXPECT_EQ(m.misses(), 0);
  m.update(none());
  EXPECT_EQ(m.update(none()), S::kRelocalizing);
  EXPECT_EQ(m.update(none()), S::kLost);
}

TEST(Visibility, VisibleStaysOnGoodAndFairFrames) {
  VisibilityMachine m = at(S::kVisible);
  EXPECT_EQ(m.update(good()), S::kVisible);
  EXPECT_EQ(m.update(fair()), S::kVisible);  // hysteresis: q between theta_off and theta_on
  EXPECT_FALSE(m.changed());
}

TEST(Visibility, VisibleToRelocalizingOnAMiss) {
  // The transition the original could never make.
  for (auto obs : {none(), unsure()}) {
    VisibilityMachine m = at(S::kVisible);
    EXPECT_EQ(m.update(obs), S::kRelocalizing);
    EXPECT_TRUE(m.changed());
  }
}

TEST(Visibility, VisibleToRelocalizingOnPoorQualityOrABrokenMask) {
  for (auto obs : {poor(), broken()}) {
    VisibilityMachine m = at(S::kVisible);
    EXPECT_EQ(m.update(obs), S::kRelocalizing);
  }
}

TEST(Visibility, FullCycleVisibleRelocalizingLostAndBack) {
  VisibilityMachine m = at(S::kVisible);
  EXPECT_EQ(m.update(none()), S::kRelocalizing);
  EXPECT_EQ(m.update(none()), S::kRelocalizing);
  EXPECT_EQ(m.update(none()), S::kLost);
  EXPECT_EQ(m.update(fair()), S::kRelocalizing);
  EXPECT_EQ(m.update(fair()), S::kRelocalizing);
  EXPECT_EQ(m.update(good()), S::kVisible);
}

TEST(Visibility, ThresholdsAreInclusiveAtTheirValues) {
  VisibilityConfig cfg;
  VisibilityMachine m = at(S::kRelocalizing, cfg);
  // Exactly tau_conf, theta_on and theta_cont: counts as good.
  EXPECT_EQ(m.update({true, cfg.tau_conf, cfg.theta_on, cfg.theta_cont}), S::kVisible);
  // Exactly theta_off keeps VISIBLE; just below leaves.
  EXPECT_EQ(m.update({true, 0.9f, cfg.theta_off, 1.0f}), S::kVisible);
  EXPECT_EQ(m.update({true, 0.9f, cfg.theta_off - 1e-3f, 1.0f}), S::kRelocalizing);
}

TEST(Visibility, ResetReturnsToLost) {
  VisibilityMachine m = at(S::kVisible);
  m.reset();
  EXPECT_EQ(m.state(), S::kLost);
  EXPECT_EQ(m.misses(), 0);
}

TEST(Visibility, ConfigValidation) {
  EXPECT_TRUE(validate_visibility_config({}).ok());
  VisibilityConfig c;
  c.theta_off = 0.7f;  // above theta_on
  EXPECT_EQ(validate_visibility_config(c).code(), StatusCode::kInvalidArgument);
  c = {};
  c.tau_conf = 1.5f;
  EXPECT_EQ(validate_visibility_config(c).code(), StatusCode::kInvalidArgument);
  c = {};
  c.lost_after_misses = 0;
  EXPECT_EQ(validate_visibility_config(c).code(), StatusCode::kInvalidArgument);
  EXPECT_STREQ(visibility_state_name(S::kRelocalizing), "RELOCALIZING");
}

}  // namespace
}  // namespace um::pipeline
