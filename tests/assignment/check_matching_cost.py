#!/usr/bin/env python3
"""Checks dfine_matching_cost / dfine_match against a NumPy float32 transcription of the official
D-FINE HungarianMatcher.forward (src/zoo/dfine/dfine_matcher.py and box_ops.py; torch is not
installed here, so the torch expressions are rewritten one for one in NumPy):

    out_prob = sigmoid(logits)[:, tgt_ids]
    neg = (1 - alpha) * out_prob**gamma * -log(1 - out_prob + 1e-8)
    pos = alpha * (1 - out_prob)**gamma * -log(out_prob + 1e-8)
    cost_class = pos - neg                                  # or -softmax(logits)[:, tgt_ids]
    cost_bbox = cdist(out_bbox, tgt_bbox, p=1)
    cost_giou = -generalized_box_iou(cxcywh_to_xyxy(out_bbox), cxcywh_to_xyxy(tgt_bbox))
    C = 5 * cost_bbox + 2 * cost_class + 2 * cost_giou; C = nan_to_num(C, nan=1.0)
    indices = linear_sum_assignment(C)

Usage: check_matching_cost.py --driver build/tests/assignment/matching_cost_driver
"""
import argparse
import json
import subprocess
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

f32 = np.float32


def cxcywh_to_xyxy(b):
    cx, cy, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.stack([cx - f32(0.5) * w, cy - f32(0.5) * h, cx + f32(0.5) * w, cy + f32(0.5) * h], 1)


def generalized_box_iou(b1, b2):
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    lt = np.maximum(b1[:, None, :2], b2[None, :, :2])
    rb = np.minimum(b1[:, None, 2:], b2[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
        lt = np.minimum(b1[:, None, :2], b2[None, :, :2])
        rb = np.maximum(b1[:, None, 2:], b2[None, :, 2:])
        wh = np.clip(rb - lt, 0, None)
        area = wh[..., 0] * wh[..., 1]
        return iou - (area - union) / area


def reference(logits, boxes, labels, targets, focal):
    alpha, gamma = f32(0.25), f32(2.0)
    if focal:
        p = (f32(1) / (f32(1) + np.exp(-logits)))[:, labels]
        neg = (f32(1) - alpha) * p**gamma * -np.log(f32(1) - p + f32(1e-8))
        pos = alpha * (f32(1) - p) ** gamma * -np.log(p + f32(1e-8))
        cost_class = pos - neg
    else:
        e = np.exp(logits - logits.max(1, keepdims=True))
        cost_class = -(e / e.sum(1, keepdims=True))[:, labels]
    cost_bbox = np.abs(boxes[:, None, :] - targets[None, :, :]).sum(-1)
    cost_giou = -generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(targets))
    c = f32(5) * cost_bbox + f32(2) * cost_class + f32(2) * cost_giou
    return np.nan_to_num(c.astype(f32), nan=1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    failures = 0
    cases = 0
    for trial in range(60):
        q = int(rng.integers(1, 40)) if trial % 10 else 300
        c = int(rng.integers(1, 4))
        t = int(rng.integers(1, 8))
        logits = rng.normal(0, 3, (q, c)).astype(f32)
        boxes = np.concatenate([rng.random((q, 2)), rng.random((q, 2)) * 0.5 + 0.01], 1).astype(f32)
        targets = np.concatenate([rng.random((t, 2)), rng.random((t, 2)) * 0.5 + 0.01], 1).astype(f32)
        if trial % 7 == 3:
            targets[0, 2:] = 0  # degenerate target: GIoU of two boxes with zero area is NaN -> 1
            boxes[0, 2:] = 0
        if trial % 5 == 1:
            boxes[: min(q, t)] = targets[: min(q, t)]  # exact matches
        labels = rng.integers(0, c, t)
        focal = trial % 4 != 2
        doc = {"logits": logits.tolist(), "boxes": boxes.tolist(), "labels": labels.tolist(),
               "targets": targets.tolist(), "focal": focal, "k": 1 + trial % 3}
        proc = subprocess.run([args.driver], input=json.dumps(doc), capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"trial {trial}: driver failed: {proc.stderr}")
            failures += 1
            continue
        out = json.loads(proc.stdout)
        got = np.array(out["cost"], dtype=np.float64)
        ref = reference(logits, boxes, labels, targets, focal).astype(np.float64)
        err = np.abs(got - ref).max()
        if not err <= 1e-5 * max(1.0, np.abs(ref).max()):
            print(f"trial {trial}: cost differs by {err} (q={q}, c={c}, t={t}, focal={focal})")
            failures += 1
        # Round 0 must be optimal for the reference matrix (ties may pick different pairs).
        r, cidx = linear_sum_assignment(ref)
        pairs = out["rounds"][0]
        mine = sum(ref[a, b] for a, b in pairs)
        if len(pairs) != len(r) or abs(mine - ref[r, cidx].sum()) > 1e-4 * max(1.0, abs(mine)):
            print(f"trial {trial}: matching cost {mine} vs SciPy {ref[r, cidx].sum()}")
            failures += 1
        queries = [a for rnd in out["rounds"] for a, _ in rnd]
        if len(set(queries)) != len(queries):
            print(f"trial {trial}: a query is matched in two top-k rounds")
            failures += 1
        cases += 1
    print(f"{cases} matching-cost cases checked; {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
