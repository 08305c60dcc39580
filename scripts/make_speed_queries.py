#!/usr/bin/env python3
"""A query set in which every upload changes speed, over the whole 0.5x-2x range (the dev
set only has 0.8x-1.25x): ../shared/bench/make_queries.py with another editing style.

    python3 scripts/make_speed_queries.py --out DIR --seed 4 --positives 30 --negatives 10
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1].parent / "shared" / "bench"))
import make_queries as M  # noqa: E402


class SpeedStyle(M.Style):
    def __init__(self, rng, families, n_edits):
        super().__init__(rng, [f for f in families if f != "speed"], max(1, n_edits - 1))
        self.edits = ["speed"] + self.edits
        self.speed = rng.choice(self.speed_choices(rng))

    def speed_choices(self, rng):
        return [0.5, 0.6, 0.75, 1.33, 1.6, 2.0]


if __name__ == "__main__":
    M.main(style_cls=SpeedStyle)
