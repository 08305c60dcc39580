#!/usr/bin/env python3
"""Fits `matching.judge`: the probability that a found segment is a true clip, by logistic
regression over what each `matches` row shows, on runs made with the judge off and the
score floor low (scripts/judge_train.sh makes them).

  judge_fit.py --train SET=RUN[,SET=RUN...] --check SET=RUN[,...] --truth-dir DIR

SET names a ground truth (DIR/SET/ground_truth.csv, or a path ending in .csv given as
SET); RUN a `match --out` folder. A row is a true clip when its box overlaps a true box
of the same upload and video on both axes (the reference scorer's rule). Prints the
fitted weights as the TOML of `matching.judge`, then for each probability floor the
segment µAP, pair µAP and false uploads of the train and the check sets, scored with
../shared/bench/score.py's functions, rows ranked by probability; then, at the floor
--min-probability, the same per confirmed floor (`matching.judge.confirmed_min_probability`:
the floor of an upload's other rows once one of them reaches --min-probability), with
the share of reported rows that are true.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np
import pyarrow.dataset as ds

FEATURES = ["ln_score", "ln_speed", "slow", "similarity", "contrast", "ln_frames"]


def scorer(shared):
    sys.path.insert(0, os.path.join(shared, "bench"))
    import score
    return score


def resolver(names):
    """Maps a reported id onto the truth's spelling: the base name, then the base name
    less its extension (as `clipmatch eval` resolves them)."""
    names = set(names)

    def resolve(s):
        base = os.path.basename(s)
        stem = base.rsplit(".", 1)[0]
        return base if base in names else stem if stem in names else stem
    return resolve


def truth_of(path):
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            rows.append((os.path.basename(r["query_id"]), os.path.basename(r["ref_id"]),
                         float(r["query_start"]), float(r["query_end"]),
                         float(r["ref_start"]), float(r["ref_end"])))
    return rows


def rows_of(run, truth, slow_speed):
    t = ds.dataset(os.path.join(run, "matches"), format="parquet", partitioning="hive").to_table(
        columns=["query_id", "ref_id", "query_start_s", "query_end_s", "ref_start_s", "ref_end_s",
                 "vote_score", "speed", "matched_frames", "line_similarity", "line_contrast"]).to_pylist()
    q_of = resolver([r[0] for r in truth])
    r_of = resolver([r[1] for r in truth])
    boxes = {}
    for q, r, qs, qe, rs, re in truth:
        boxes.setdefault((q, r), []).append((qs, qe, rs, re))
    out = []
    for x in t:
        q, r = q_of(x["query_id"]), r_of(x["ref_id"])
        box = (x["query_start_s"], x["query_end_s"], x["ref_start_s"], x["ref_end_s"])
        true = any(min(box[1], g[1]) > max(box[0], g[0]) and min(box[3], g[3]) > max(box[2], g[2])
                   for g in boxes.get((q, r), []))
        out.append(((q, r) + box, features(x, slow_speed), true))
    return out


def features(x, slow_speed):
    # A row without line evidence (no frame could be judged) counts as a still shot's.
    sim = x["line_similarity"] if x["line_similarity"] is not None else 0.0
    contrast = x["line_contrast"] if x["line_contrast"] is not None else 0.0
    return [math.log(max(x["vote_score"], 1e-3)), abs(math.log(x["speed"])),
            float(x["speed"] < slow_speed), sim, contrast, math.log(max(x["matched_frames"], 1))]


def fit(x, y, ridge):
    """Logistic regression by Newton's method, an L2 penalty `ridge` on the weights (not
    the intercept)."""
    a = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(a.shape[1])
    penalty = np.full(a.shape[1], ridge)
    penalty[0] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-a @ w))
        grad = a.T @ (p - y) + penalty * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def probability(w, f):
    return 1.0 / (1.0 + math.exp(-(w[0] + sum(a * b for a, b in zip(w[1:], f)))))


def figures(sets, w, floor, score, confirmed=None):
    """Sums over `sets` of segment µAP, pair µAP and false uploads, and the share of
    reported rows that are true, reporting rows of probability `floor` or more, and of an
    upload with such a row, `confirmed` or more (as `select` does; None: `floor`)."""
    lower = floor if confirmed is None else min(confirmed, floor)
    seg = pair = 0.0
    fp = reported = true = 0
    for truth, rows in sets:
        judged = [(box + (probability(w, f),), t) for box, f, t in rows]
        sure = {p[0] for p, _ in judged if p[6] >= floor}
        kept = [(p, t) for p, t in judged if p[6] >= floor or (p[0] in sure and p[6] >= lower)]
        preds = [p for p, _ in kept]
        seg += score.segment_uap(truth, preds)[0]
        pair += score.pair_uap(truth, preds)[0]
        fp += len({p[0] for p in preds} - {t[0] for t in truth})
        reported += len(kept)
        true += sum(t for _, t in kept)
    return seg, pair, fp, true / max(reported, 1)


def cells(t, c):
    """The train and check figures of `figures` with a confirmed floor, as table cells."""
    return " | ".join([f"{t[0]:.3f}", f"{t[1]:.3f}", str(t[2]), f"{t[3]:.3f}",
                       f"{c[0]:.3f}", f"{c[1]:.3f}", str(c[2]), f"{c[3]:.3f}"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--check", default="")
    ap.add_argument("--truth-dir", required=True)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--slow-speed", type=float, default=0.8)
    ap.add_argument("--ridge", type=float, default=1.0)
    ap.add_argument("--floors", default="0,0.3,0.4,0.5,0.6,0.7,0.8")
    ap.add_argument("--min-probability", type=float, default=0.6)
    ap.add_argument("--confirmed-floors", default="0.6,0.5,0.4,0.3,0.2,0.1,0")
    ap.add_argument("--summary", metavar="CONFIRMED",
                    help="print only one table row: the train and check figures at --min-probability "
                         "and this confirmed floor, with the weights fitted here")
    a = ap.parse_args()
    score = scorer(a.shared)

    def load(spec):
        out = []
        for item in filter(None, spec.split(",")):
            name, run = item.split("=", 1)
            path = name if name.endswith(".csv") else os.path.join(a.truth_dir, name, "ground_truth.csv")
            truth = truth_of(path)
            out.append((truth, rows_of(run, truth, a.slow_speed)))
        return out

    train, check = load(a.train), load(a.check)
    x = np.array([f for _, rows in train for _, f, _ in rows])
    y = np.array([float(t) for _, rows in train for _, _, t in rows])
    w = fit(x, y, a.ridge)
    if a.summary is not None:
        t = figures(train, w, a.min_probability, score, float(a.summary))
        c = figures(check, w, a.min_probability, score, float(a.summary))
        print(cells(t, c))
        return
    print(f"# fitted on {len(y)} rows ({int(y.sum())} true) of {len(train)} sets; "
          f"checked on {len(check)} sets")
    print("[matching.judge]")
    print(f"intercept = {w[0]:.3f}")
    for name, v in zip(FEATURES, w[1:]):
        print(f"{name} = {v:.3f}")
    print()
    print("| p floor | train segment µAP | train pair µAP | train false uploads | "
          "check segment µAP | check pair µAP | check false uploads |")
    print("|---|---|---|---|---|---|---|")
    for floor in map(float, a.floors.split(",")):
        t, c = figures(train, w, floor, score), figures(check, w, floor, score) if check else (0, 0, 0, 0)
        print(f"| {floor:.2f} | {t[0]:.3f} | {t[1]:.3f} | {t[2]} | {c[0]:.3f} | {c[1]:.3f} | {c[2]} |")
    print()
    print(f"| confirmed floor (p floor {a.min_probability:.2f}) | train segment µAP | train pair µAP | "
          "train false uploads | train rows true | check segment µAP | check pair µAP | "
          "check false uploads | check rows true |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lower in map(float, a.confirmed_floors.split(",")):
        t = figures(train, w, a.min_probability, score, lower)
        c = figures(check, w, a.min_probability, score, lower) if check else (0, 0, 0, 0)
        print(f"| {lower:.2f} | {cells(t, c)} |")


if __name__ == "__main__":
    main()
