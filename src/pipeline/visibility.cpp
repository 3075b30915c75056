// File: src/pipeline/visibility.cpp
// Purpose: the visibility state machine; the transition table is in visibility.h.
#include "pipeline/visibility.h"

#include <string>

namespace um::pipeline {
namespace {

Status check_unit(const char* name, float v) {
  if (!(v >= 0.0f && v <= 1.0f)) {
    return invalid_argument(std::string("visibility: ") + name + " = " + std::to_string(v) +
                            " must be in [0, 1]");
  }
  return Status::Ok();
}

}  // namespace

Status validate_visibility_config(const VisibilityConfig& c) {
  UM_RETURN_IF_ERROR(check_unit("tau_conf", c.tau_conf));
  UM_RETURN_IF_ERROR(check_unit("theta_on", c.theta_on));
  UM_RETURN_IF_ERROR(check_unit("theta_off", c.theta_off));
  UM_RETURN_IF_ERROR(check_unit("theta_cont", c.theta_cont));
  if (c.theta_off > c.theta_on) {
    return invalid_argument("visibility: theta_off = " + std::to_string(c.theta_off) +
                            " must not exceed theta_on = " + std::to_string(c.theta_on) +
                            " (hysteresis)");
  }
  if (c.lost_after_misses < 1) {
    return invalid_argument("visibility: lost_after_misses = " +
                            std::to_string(c.lost_after_misses) + " must be >= 1");
  }
  return Status::Ok();
}

VisibilityMachine::VisibilityMachine(VisibilityConfig config) : config_(config) {}

void VisibilityMachine::reset() {
  state_ = VisibilityState::kLost;
  changed_ = false;
  misses_ = 0;
}

bool VisibilityMachine::detected(const VisibilityObservation& obs) const {
  return obs.has_box && obs.score >= config_.tau_conf;
}

VisibilityState VisibilityMachine::update(const VisibilityObservation& obs) {
  const bool det = detected(obs);
  const bool continuous = obs.continuity >= config_.theta_cont;
  const bool good = det && continuous && obs.quality >= config_.theta_on;
  const bool fair = det && continuous && obs.quality >= config_.theta_off;
  misses_ = det ? 0 : misses_ + 1;

  VisibilityState next = state_;
  switch (state_) {
    case VisibilityState::kVisible:
      next = fair ? VisibilityState::kVisible : VisibilityState::kRelocalizing;
      break;
    case VisibilityState::kRelocalizing:
      if (good) {
        next = VisibilityState::kVisible;
      } else if (misses_ >= config_.lost_after_misses) {
        next = VisibilityState::kLost;
      }
      break;
    case VisibilityState::kLost:
      if (det) next = VisibilityState::kRelocalizing;
      break;
  }
  changed_ = next != state_;
  state_ = next;
  return state_;
}

}  // namespace um::pipeline
