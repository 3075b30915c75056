// File: src/pipeline/tracker.cpp
// Purpose: the gated, exactly assigned box tracker and its temporal-stability signal
// (tracker.h documents every definition).
#include "pipeline/tracker.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "pipeline/assignment.h"

namespace um::pipeline {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

bool finite(float x) { return std::isfinite(x); }

Status check_box(const Box& b, size_t index) {
  if (!finite(b.x0) || !finite(b.y0) || !finite(b.x1) || !finite(b.y1) || !finite(b.score)) {
    return invalid_argument("tracker: detection " + std::to_string(index) +
                            " has a non-finite coordinate or score");
  }
  if (b.x1 < b.x0 || b.y1 < b.y0) {
    return invalid_argument("tracker: detection " + std::to_string(index) +
                            " is not xyxy (x1 < x0 or y1 < y0)");
  }
  return Status::Ok();
}

}  // namespace

float box_iou(const Box& a, const Box& b) {
  const float iw = std::max(0.0f, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const float ih = std::max(0.0f, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  const float inter = iw * ih;
  const float uni = a.width() * a.height() + b.width() * b.height() - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

float normalized_center_distance(const Box& a, const Box& b) {
  const float dx = 0.5f * (a.x0 + a.x1) - 0.5f * (b.x0 + b.x1);
  const float dy = 0.5f * (a.y0 + a.y1) - 0.5f * (b.y0 + b.y1);
  const float d = std::hypot(dx, dy);
  const float scale = 0.5f * (std::hypot(a.width(), a.height()) + std::hypot(b.width(), b.height()));
  if (scale > 0.0f) return d / scale;
  return d == 0.0f ? 0.0f : kInf;
}

Status validate_tracker_config(const TrackerConfig& c) {
  auto bad = [](const std::string& what) { return invalid_argument("tracker config: " + what); };
  if (!finite(c.weight_center) || c.weight_center < 0) return bad("weight_center must be >= 0");
  if (!finite(c.weight_iou) || c.weight_iou < 0) return bad("weight_iou must be >= 0");
  if (c.weight_center == 0 && c.weight_iou == 0) return bad("both cost weights are 0");
  if (!finite(c.max_center_distance) || c.max_center_distance <= 0) {
    return bad("max_center_distance must be > 0");
  }
  if (!finite(c.min_iou) || c.min_iou < 0 || c.min_iou >= 1) return bad("min_iou must be in [0, 1)");
  if (!finite(c.min_score)) return bad("min_score must be finite");
  if (!finite(c.new_track_min_score)) return bad("new_track_min_score must be finite");
  if (c.max_misses < 0) return bad("max_misses must be >= 0");
  return Status::Ok();
}

Box predict_box(const Track& track, int frames_ahead) {
  Box b = track.box;
  if (frames_ahead == 0 || track.hits < 2 || track.frames_between < 1) return b;
  const Box& p = track.previous_box;
  const float per_frame = static_cast<float>(frames_ahead) / static_cast<float>(track.frames_between);
  const float dx = 0.5f * ((b.x0 + b.x1) - (p.x0 + p.x1)) * per_frame;
  const float dy = 0.5f * ((b.y0 + b.y1) - (p.y0 + p.y1)) * per_frame;
  b.x0 += dx;
  b.x1 += dx;
  b.y0 += dy;
  b.y1 += dy;
  return b;
}

Tracker::Tracker(TrackerConfig config) : config_(config) {}

void Tracker::coast() {
  for (Track& tr : tracks_) {
    tr.age += 1;
    tr.coasted += 1;
  }
}

const Track* Tracker::find(int id) const {
  for (const Track& tr : tracks_)
    if (tr.id == id) return &tr;
  return nullptr;
}

void Tracker::reset() {
  tracks_.clear();
  stability_ = {};
  next_id_ = 1;
  last_primary_ = -1;
}

Result<TrackerUpdate> Tracker::update(std::span<const Box> detections) {
  UM_RETURN_IF_ERROR(validate_tracker_config(config_));
  for (size_t d = 0; d < detections.size(); ++d) UM_RETURN_IF_ERROR(check_box(detections[d], d));

  // Detections that take part at all.
  std::vector<int> active;
  for (size_t d = 0; d < detections.size(); ++d) {
    if (detections[d].score >= config_.min_score) active.push_back(static_cast<int>(d));
  }
  const int nt = static_cast<int>(tracks_.size());
  const int nd = static_cast<int>(active.size());

  // Rows: tracks. Columns: active detections, then one private "unmatched" column per track.
  std::vector<int> det_of_track(nt, -1);
  // The box each track is associated through: its last box, or, for a coasted track, its
  // prediction for this frame (tracker.h, "Coasting").
  std::vector<Box> reference(nt);
  for (int t = 0; t < nt; ++t) {
    const Track& tr = tracks_[t];
    reference[t] = tr.coasted > 0 ? predict_box(tr, tr.misses + tr.coasted + 1) : tr.box;
  }
  if (nt > 0) {
    const int cols = nd + nt;
    std::vector<float> cost(static_cast<size_t>(nt) * cols, kInf);
    const float unmatched = config_.weight_center * config_.max_center_distance +
                            config_.weight_iou * (1.0f - config_.min_iou);
    for (int t = 0; t < nt; ++t) {
      float* row = cost.data() + static_cast<size_t>(t) * cols;
      for (int k = 0; k < nd; ++k) {
        const Box& det = detections[active[k]];
        const float dist = normalized_center_distance(reference[t], det);
        const float iou = box_iou(reference[t], det);
        if (dist > config_.max_center_distance || iou < config_.min_iou) continue;
        row[k] = config_.weight_center * dist + config_.weight_iou * (1.0f - iou);
      }
      row[nd + t] = unmatched;
    }
    Result<Assignment> a = solve_assignment(cost.data(), nt, cols);
    // Always feasible by construction (every track has its own finite column).
    if (!a.ok()) return a.status().with_context("tracker association");
    for (size_t p = 0; p < a->row_ind.size(); ++p) {
      if (a->col_ind[p] < nd) det_of_track[a->row_ind[p]] = active[a->col_ind[p]];
    }
  }

  TrackerUpdate out;
  out.track_of_detection.assign(detections.size(), -1);
  std::vector<Track> next;
  next.reserve(tracks_.size() + active.size());
  // Prediction a coasted track was matched against, by track id (for the stability signal).
  std::vector<std::pair<int, Box>> predicted_match;
  for (int t = 0; t < nt; ++t) {
    Track tr = tracks_[t];
    tr.age += 1;
    const int d = det_of_track[t];
    if (d >= 0) {
      if (tr.coasted > 0) predicted_match.emplace_back(tr.id, reference[t]);
      tr.previous_box = tr.box;
      tr.box = detections[d];
      tr.frames_between = tr.misses + tr.coasted + 1;
      tr.coasted = 0;
      tr.hits += 1;
      tr.misses = 0;
      out.track_of_detection[d] = tr.id;
    } else {
      tr.misses += 1;
      if (tr.misses > config_.max_misses) continue;  // dropped
    }
    next.push_back(tr);
  }
  for (int d : active) {
    if (out.track_of_detection[d] >= 0 || detections[d].score < config_.new_track_min_score) continue;
    Track tr;
    tr.id = next_id_++;
    tr.box = detections[d];
    tr.previous_box = detections[d];
    tr.hits = 1;
    next.push_back(tr);
    out.track_of_detection[d] = tr.id;
  }
  tracks_ = std::move(next);  // ids ascending: survivors keep their order, new ids are larger

  // Primary = track of the highest-scoring detection that has one.
  TemporalStability s;
  int best = -1;
  for (size_t d = 0; d < detections.size(); ++d) {
    if (out.track_of_detection[d] < 0) continue;
    if (best < 0 || detections[d].score > detections[best].score) best = static_cast<int>(d);
  }
  if (best >= 0) {
    const int id = out.track_of_detection[best];
    const Track& tr = *std::find_if(tracks_.begin(), tracks_.end(),
                                    [id](const Track& x) { return x.id == id; });
    s.track_id = id;
    s.track_age = tr.age;
    s.track_hits = tr.hits;
    s.primary_changed = id != last_primary_;
    if (tr.hits >= 2) {
      s.valid = true;
      const Box* against = &tr.previous_box;
      for (const auto& [pid, pbox] : predicted_match) {
        if (pid == id) {
          against = &pbox;
          s.predicted = true;
        }
      }
      s.box_iou = box_iou(tr.box, *against);
      s.score_delta = tr.box.score - tr.previous_box.score;
      s.center_shift = normalized_center_distance(tr.box, *against);
      s.frames_since_previous = tr.frames_between;
      s.stability = s.box_iou * (1.0f - std::min(1.0f, std::abs(s.score_delta)));
    }
  } else {
    s.primary_changed = last_primary_ != -1;
  }
  last_primary_ = s.track_id;
  stability_ = s;
  out.stability = s;
  return out;
}

}  // namespace um::pipeline
