#!/usr/bin/env python3
"""Query sets in which every upload has one edit family, on top of other dev families:
../shared/bench/make_queries.py with another editing style.

  speed: every upload sped up or slowed down over the whole 0.5x-2x range (the dev set
         only has 0.8x-1.25x)
  crop:  every upload crops the picture to 70-90% of its width and of its height, chosen
         apart, anywhere in the frame (the dev set holds six such uploads)

    python3 scripts/make_family_queries.py speed --out DIR --seed 4 --positives 30 --negatives 10
    python3 scripts/make_family_queries.py crop --out DIR --seed 6 --positives 30 --negatives 10
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1].parent / "shared" / "bench"))
import make_queries as M  # noqa: E402

FAMILIES = ("speed", "crop")


def style_with(family):
    class FamilyStyle(M.Style):
        def __init__(self, rng, families, n_edits):
            super().__init__(rng, [f for f in families if f != family], max(1, n_edits - 1))
            self.edits = [family] + self.edits
            if family == "speed":
                self.speed = rng.choice(self.speed_choices(rng))

        def speed_choices(self, rng):
            return [0.5, 0.6, 0.75, 1.33, 1.6, 2.0] if family == "speed" else super().speed_choices(rng)

    return FamilyStyle


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in FAMILIES:
        sys.exit(__doc__)
    M.main(sys.argv[2:], style_cls=style_with(sys.argv[1]))
