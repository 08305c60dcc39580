#!/usr/bin/env python3
"""A query set in which every upload crops the picture (70-90% of its width and height,
chosen apart, anywhere in the frame), on top of other dev families: the weakest family
of the dev set, which holds only six such uploads. ../shared/bench/make_queries.py with
another editing style.

    python3 scripts/make_crop_queries.py --out DIR --seed 6 --positives 30 --negatives 10
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1].parent / "shared" / "bench"))
import make_queries as M  # noqa: E402


class CropStyle(M.Style):
    def __init__(self, rng, families, n_edits):
        super().__init__(rng, [f for f in families if f != "crop"], max(1, n_edits - 1))
        self.edits = ["crop"] + self.edits


if __name__ == "__main__":
    M.main(style_cls=CropStyle)
