#!/usr/bin/env python3
"""A query set with the edit families the dev set lacks, one per upload on top of the dev
families: picture-in-picture (the clip at 40-60% of the canvas width over other moving
footage), stacking (the clip filling one half of the canvas, other footage the other),
a 2-6 degree rotation, grayscale. ../shared/bench/make_queries.py with another style.
The other footage is a test pattern (testsrc2 behind a window, mandelbrot beside a stacked
clip), or with `--behind footage` an excerpt of ../shared/footage/distractors.

    python3 scripts/make_hidden_queries.py --out DIR --seed 5 --positives 30 --negatives 10
    python3 scripts/make_hidden_queries.py --behind footage --out DIR --seed 7 ...
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1].parent / "shared" / "bench"))
import make_queries as M  # noqa: E402

HIDDEN = ["pip", "stack", "rotate", "gray"]
FOOTAGE = Path(__file__).resolve().parents[1].parent / "shared" / "footage"
BEHIND = "pattern"  # or "footage"; set from the command line


class HiddenStyle(M.Style):
    def __init__(self, rng, families, n_edits):
        super().__init__(rng, [f for f in families if f not in HIDDEN], max(1, n_edits - 1))
        self.edits = [rng.choice(HIDDEN)] + self.edits
        self.angle = rng.choice([-1, 1]) * rng.uniform(2, 6)
        self.pip = (rng.uniform(0.4, 0.6), rng.random(), rng.random())
        if BEHIND == "footage":
            self.other = (rng.choice(M.list_videos(FOOTAGE / "distractors")), rng.uniform(0, 5))

    def other_footage(self, w, h, pattern):
        """A `w`x`h` stream of other footage: `pattern` (a lavfi source) or a distractor."""
        if BEHIND != "footage":
            return f"{pattern}=s={w}x{h}:r={self.fps},format=yuv420p"
        path, start = self.other
        if any(c in str(path) for c in ":,;'[]\\="):
            raise SystemExit(f"{path}: a character the filtergraph would misread in its name")
        return (f"movie={path}:seek_point={start:.2f}:loop=0,setpts=N/FRAME_RATE/TB,fps={self.fps},"
                f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1,format=yuv420p")
    def content_filters(self):
        f = super().content_filters()
        if "gray" in self.edits:
            f.append("hue=s=0")
        if "rotate" in self.edits:
            f.append(f"rotate=a={self.angle:.2f}*PI/180:fillcolor=black")
        return f
    def graph(self):
        w, h = self.size
        if "stack" not in self.edits and "pip" not in self.edits:
            return super().graph()
        pre = [f"setpts=(PTS-STARTPTS)/{self.speed}", f"fps={self.fps}",
               "scale=trunc(iw/2)*2:trunc(ih/2)*2", "setsar=1"] + self.content_filters()
        g = f"[0:v]{','.join(pre)}[c];"
        if "stack" in self.edits:
            # the clip on one half of the canvas, other moving footage on the other half
            top = self.pip[1] < 0.5
            half = f"{w}:{h // 2}"
            g += f"[c]scale={half}:force_original_aspect_ratio=increase,crop={half}[a];"
            g += f"{self.other_footage(w, h // 2, 'mandelbrot')}[b];"
            g += f"{'[a][b]' if top else '[b][a]'}vstack=shortest=1[k0];"
        else:
            s, x, y = self.pip
            g += f"{self.other_footage(w, h, 'testsrc2')}[bg];"
            g += f"[c]scale=trunc({w}*{s:.3f}/2)*2:-2[fg];"
            g += f"[bg][fg]overlay=(W-w)*{x:.3f}:(H-h)*{y:.3f}:shortest=1[k0];"
        post = []
        if "caption" in self.edits:
            post.append(f"drawtext=fontfile={M.FONT}:text='{self.caption}':fontsize=h/22:fontcolor=white:borderw=2:bordercolor=black:x=(w-text_w)/2:y=h*0.86")
        if "sticker" in self.edits:
            x, y, s, col = self.sticker
            post.append(f"drawbox=x=iw*{x:.3f}:y=ih*{y:.3f}:w=iw*{s:.3f}:h=iw*{s:.3f}:color={col}@0.9:t=fill")
        if "noise" in self.edits:
            post.append(f"noise=alls={self.noise}:allf=t")
        post.append("format=yuv420p")
        g += f"[k0]{','.join(post)}[v]"
        return g
if __name__ == '__main__':
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--behind", choices=["pattern", "footage"], default="pattern",
                    help="what the other footage is: a test pattern or ../shared/footage/distractors")
    ap.add_argument("--footage", default=str(FOOTAGE))
    known, rest = ap.parse_known_args()
    BEHIND, FOOTAGE = known.behind, Path(known.footage)
    M.main(rest + ["--footage", known.footage], style_cls=HiddenStyle)
