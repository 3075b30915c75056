// File: src/pipeline/quality.h
// Purpose: the concrete quality scores the visibility state machine uses (SPEC 1 asks for mask
// sharpness on W_edge, contrast of W_in against W_out, mask continuity, temporal stability).
// Every score is in [0, 1], higher is better, and scale-free (no dependence on the probe's gain).
//
// Definitions (I = the gray frame, g = |Sobel(I)| / 8, so a ramp of 1 gray level per pixel
// gives g = 1; borders replicate):
//   sharpness  = clamp(1 - median_frame(g) / mean_{W_edge}(g), 0, 1)
//                median_frame(g) is rounded down to 1/4 gray level (a histogram), and
//                mean_{W_edge}(g) is summed in FIXED POINT: each g rounded to a multiple of
//                2^-16 (quality_stats.h), so that the CPU and the GPU (atomics in any order)
//                give the same bits. (Until the GPU path, the sum was in double: the scores
//                differ from those by < 1e-5.)
//                How much stronger the gradient is on the mask boundary band than the frame's
//                typical (speckle) gradient: 2x -> 0.5, 4x -> 0.75, 10x -> 0.9; a boundary drawn
//                through plain speckle scores about 0. Empty W_edge -> 0.
//   contrast   = clamp((mean_in - mean_out) / (mean_in + mean_out), 0, 1)
//                mean_in = mean of I over W_in (over the mask itself when erosion left nothing),
//                mean_out = mean of I over W_out. A bright echo over dark surroundings -> high;
//                a mask darker than its ring -> 0. Empty W_out or zero sum -> 0.
//   continuity = |largest 8-connected component of the mask| / |mask|  (empty mask -> 0)
//                A bone surface is one piece; a fragmented mask is a doubtful one.
//   stability  = the tracker's TemporalStability::stability (tracker.h: IoU of the bone's
//                track box with its previous box, times 1 - |score change|), when the caller
//                passes a tracker signal; not available (stability_valid = false) when that
//                signal is not valid (first frame of a track). Callers without a tracker get
//                mask_stability in its place.
//   mask_stability = IoU(mask_t, shift(mask_{t-1}, (dx, dy))), -1 without a previous mask
//                where (dx, dy) is the rounded displacement of the box centre between the two
//                frames: motion compensation, so a bone sliding a few pixels per frame stays
//                "stable" and what is measured is the consistency of its shape (reported for
//                the dashboard; the box-level tracker signal is what the state machine uses).
//   combined   = mean of sharpness, contrast and (when available) stability.
// The state machine compares `combined` with theta_on/theta_off and `continuity` with
// theta_cont (visibility.h), so continuity acts as a separate gate rather than being averaged.
//
// The per-pixel part of sharpness and contrast is QualityPixelStats (quality_stats.h), which
// the CUDA frame graph computes on the device (quality_stats_cuda.h): pass it as
// QualityInputs::precomputed and compute_quality skips those two full-frame loops (continuity
// and mask_stability still need the mask on the host).
//
// Usage:
//   QualityInputs in{frame.pixels.data(), mask.data(), w.w_in.data(), w.w_edge.data(),
//                    w.w_out.data(), width, height, prev_mask_or_null, dx, dy};
//   QualityScores q = compute_quality(in);
//   in.precomputed = &stats;  // stats of the same frame, mask and maps (e.g. from the GPU)
#pragma once

#include <cstdint>

#include "pipeline/frame.h"
#include "pipeline/quality_stats.h"
#include "pipeline/tracker.h"

namespace um::pipeline {

struct QualityInputs {
  const uint8_t* frame = nullptr;  // width*height gray
  const uint8_t* mask = nullptr;   // width*height, 0/1
  const uint8_t* w_in = nullptr;   // mask_weights.h maps of `mask`
  const uint8_t* w_edge = nullptr;
  const uint8_t* w_out = nullptr;
  int width = 0;
  int height = 0;
  const uint8_t* prev_mask = nullptr;  // previous frame's mask (same size) or null
  int shift_x = 0;                     // motion of the bone since the previous frame, pixels
  int shift_y = 0;
  // The tracker's signal for this frame, or null (then mask_stability stands in for it).
  const TemporalStability* tracker = nullptr;
  // The per-pixel stats of (frame, mask, w_in, w_edge, w_out), or null (then computed here).
  // When given, `frame`, `w_in`, `w_edge` and `w_out` are not read (`mask` still is).
  const QualityPixelStats* precomputed = nullptr;
};

QualityScores compute_quality(const QualityInputs& in);

// The individual scores, as defined above.
float mask_sharpness(const uint8_t* frame, const uint8_t* w_edge, int width, int height);
float mask_contrast(const uint8_t* frame, const uint8_t* mask, const uint8_t* w_in,
                    const uint8_t* w_out, int width, int height);
float mask_continuity(const uint8_t* mask, int width, int height);
// IoU of `mask` with `prev` translated by (shift_x, shift_y); -1 when both are empty.
float shifted_mask_iou(const uint8_t* mask, const uint8_t* prev, int width, int height,
                       int shift_x, int shift_y);

}  // namespace um::pipeline
