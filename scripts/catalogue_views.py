"""Which catalogue views pay for themselves? Frame recall (the right catalogue frame,
same video within 1 s, among the nearest 1 and 5; a frame scores its best stored view
and orientation, in floating point, with the weights of src/kernels/descriptor.rs) with
every view, then dropping, one at a time, the view whose loss costs the least recall on
the CHOOSE sets; every set's recall is printed at each step, so sets not named in CHOOSE
check the order. The order printed, last dropped first, is that of `frame::views::VIEWS`.
Reads dumps written by the dump_pairs example, in the view order they were made with:

    cargo run --release --example dump_pairs -- FOOTAGE UPLOADS TRUTH PREFIX   # per set
    python3 scripts/catalogue_views.py CHOOSE_PREFIX[,...] CHECK_PREFIX[,...]
"""
import sys

import numpy as np

from descriptor_whitening import V, base, load, read_consts, right_frames, view_scores
import descriptor_whitening


def similarities(prefix):
    """Per upload frame: its best-orientation similarity to every view of every
    catalogue frame, and which catalogue frames are right."""
    c, cm, q, qm = load(prefix)
    scores = [s.astype(np.float32) for s in view_scores(base, c, q)]
    return np.concatenate(scores), right_frames(cm, qm)


def recall(sims, right, views):
    top = np.argsort(-sims[:, :, views].max(axis=2), axis=1)[:, :5]
    hit = np.take_along_axis(right, top, axis=1)
    return float(hit[:, 0].mean()), float(hit.any(axis=1).mean())


def main():
    descriptor_whitening.MEAN, descriptor_whitening.WEIGHT = read_consts()
    choose = sys.argv[1].split(",")
    check = sys.argv[2].split(",") if len(sys.argv) > 2 else []
    sets = {p: similarities(p) for p in choose + check}

    def report(views):
        return "  ".join(f"{p.split('/')[-1]} {r1:.3f}/{r5:.3f}" for p, (r1, r5) in
                         ((p, recall(*sets[p], views)) for p in sets))

    def score(views):
        return sum(sum(recall(*sets[p], views)) for p in choose)

    kept = list(range(V))
    print(f"all {V}: {report(kept)}")
    dropped = []
    # The whole picture (view 0) stays first: alignment reads it as the frame's picture.
    while len(kept) > 1:
        v = max(kept[1:], key=lambda v: score([x for x in kept if x != v]))
        kept.remove(v)
        dropped.append(v)
        print(f"drop {v:2d}, keep {len(kept):2d}: {report(kept)}")
    print("order, last dropped first:", kept + dropped[::-1])


if __name__ == "__main__":
    main()
