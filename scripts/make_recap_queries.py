#!/usr/bin/env python3
"""Uploads shaped like those that dominate short-video platforms, with ground truth, in
the format of ../shared/bench/make_queries.py (queries/, ground_truth.csv, queries.csv):

  recap    jump cuts of 1.5-6 s from one to three episodes in story order with skips,
           on a 9:16 canvas with a title bar and subtitles, zoomed 1.0-1.3x, often
           mirrored, at 1.0-1.3x speed, with talking-head inserts between clips;
  fill     the landscape picture cropped to fill a 9:16 canvas (a third of its width),
           panning across it;
  kenburns a slow zoom over the clip;
  phone    a screen filmed by a phone: perspective, vignette, blur, noise, a fine grid
           standing in for moire;
  photo    the clip in a white border on a still photo;
  overlays many stickers, a scrolling ticker and a translucent logo.

Negatives go through the same templates with unrelated footage. Clips are drawn from
every catalogue folder named (default: catalogue and catalogue2), inserts and negatives
from every distractor folder (default: distractors and distractors2).

    python3 scripts/make_recap_queries.py --out DIR --seed 21 [--positives 24] [--negatives 12]
"""
import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1].parent / "shared" / "bench"))
import make_queries as M  # noqa: E402

SHAPES = ["recap", "fill", "kenburns", "phone", "photo", "overlays"]
TITLES = ["CEO REGRETS EVERYTHING", "HIDDEN HEIRESS EP 1-3", "REVENGE OF THE BRIDE",
          "FULL RECAP", "THE TWINS SWAPPED", "SHE CAME BACK"]
SUBTITLES = ["you never loved me", "I will make you pay", "wait what did he say",
             "this changes everything", "not again", "who is she"]
FPS = 25


class Upload:
    """One upload's template: its shape and what every piece shares."""

    def __init__(self, rng, shape):
        self.shape = shape
        self.size = (640, 360) if shape == "phone" else (360, 640)
        self.mirror = shape == "recap" and rng.random() < 0.6
        self.speed = round(rng.uniform(1.0, 1.3), 3) if shape == "recap" else 1.0
        self.zoom = rng.uniform(1.0, 1.3)
        self.title = rng.choice(TITLES)
        self.subtitle = rng.choice(SUBTITLES)
        self.crf = rng.randint(28, 36)
        self.pan = rng.uniform(0.2, 0.6)
        self.persp = [rng.uniform(0.0, 0.08) for _ in range(4)]
        self.frame = (rng.uniform(0.5, 0.65), rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65))
        self.stickers = [(rng.uniform(0.05, 0.8), rng.uniform(0.05, 0.85), rng.uniform(0.08, 0.18),
                          rng.choice(["yellow", "red", "white", "pink", "cyan", "orange"])) for _ in range(5)]

    def graph(self, length, photo):
        """The filter graph from [0:v] (and [1:v], a still photo) to [v]."""
        w, h = self.size
        n = round(length / self.speed * FPS)
        pre = [f"setpts=(PTS-STARTPTS)/{self.speed}", f"fps={FPS}", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
               "setsar=1"]
        if self.mirror:
            pre.append("hflip")
        g = f"[0:v]{','.join(pre)}[c];"
        if self.shape == "recap":
            z = self.zoom
            g += (f"[c]crop=iw/{z:.3f}:ih/{z:.3f},scale={w}:-2,pad={w}:{h}:0:(oh-ih)/2:black,"
                  f"drawbox=x=0:y=0:w=iw:h=ih*0.11:color=red@0.9:t=fill,"
                  f"drawtext=fontfile={M.FONT}:text='{self.title}':fontsize=h/26:fontcolor=white:"
                  f"x=(w-text_w)/2:y=h*0.04,"
                  f"drawtext=fontfile={M.FONT}:text='{self.subtitle}':fontsize=h/30:fontcolor=yellow:"
                  f"borderw=2:bordercolor=black:x=(w-text_w)/2:y=h*0.78[k];")
        elif self.shape == "fill":
            g += (f"[c]scale=-2:{h},crop={w}:{h}:x='(iw-ow)*(0.5+{self.pan:.3f}*sin(t*0.6))':y=0[k];")
        elif self.shape == "kenburns":
            g += (f"[c]scale={w}:-2,zoompan=z='min(1+on*{0.3 / max(n, 1):.5f},1.3)':d=1:"
                  f"x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':s={w}x{round(w * 9 / 16 / 2) * 2}:fps={FPS},"
                  f"pad={w}:{h}:0:(oh-ih)/2:black[k];")
        elif self.shape == "phone":
            a, b, c, d = self.persp
            # The screen in its dark bezel, seen at an angle.
            g += (f"[c]scale={w - 48}:{h - 28},pad={w}:{h}:24:14:0x181818,"
                  f"perspective=x0=W*{a:.3f}:y0=H*{b:.3f}:x1=W*{1 - c:.3f}:y1=H*{d:.3f}:"
                  f"x2=0:y2=H:x3=W:y3=H:sense=destination,vignette=PI/6,gblur=sigma=1.2,"
                  f"drawgrid=w=4:h=4:t=1:c=black@0.1,noise=alls=12:allf=t[k];")
        elif self.shape == "photo":
            s, x, y = self.frame
            # One frame of [1:v], held: a still photo.
            g += (f"[1:v]trim=end_frame=1,loop=loop=-1:size=1,fps={FPS},"
                  f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1[bg];"
                  f"[c]scale=trunc({w}*{s:.3f}/2)*2:-2,pad=iw+12:ih+12:6:6:white[fg];"
                  f"[bg][fg]overlay=(W-w)*{x:.3f}:(H-h)*{y:.3f}:shortest=1[k];")
        else:  # overlays
            boxes = ",".join(f"drawbox=x=iw*{x:.3f}:y=ih*{y:.3f}:w=iw*{s:.3f}:h=iw*{s:.3f}:color={col}@0.9:t=fill"
                             for x, y, s, col in self.stickers)
            g += (f"[c]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},{boxes},"
                  f"drawtext=fontfile={M.FONT}:text='LIVE':fontsize=h/5:fontcolor=white@0.3:"
                  f"x=(w-text_w)/2:y=(h-text_h)/2,"
                  f"drawbox=x=0:y=ih*0.9:w=iw:h=ih*0.06:color=black@0.7:t=fill,"
                  f"drawtext=fontfile={M.FONT}:text='{self.subtitle} +++ {self.title} +++':"
                  f"fontsize=h/32:fontcolor=white:x=w-mod(t*120\\,w+text_w):y=h*0.91[k];")
        g += "[k]format=yuv420p[v]"
        return g, n


def render(src, start, length, up, photo, out):
    """Encodes src[start, start+length) through the template; returns its duration."""
    g, n = up.graph(length, photo)
    cmd = ["ffmpeg", "-v", "error", "-y", "-ss", f"{start:.3f}", "-t", f"{length + 1:.3f}", "-i", str(src)]
    if up.shape == "photo":
        cmd += ["-ss", f"{photo[1]:.2f}", "-i", str(photo[0])]
    cmd += ["-filter_complex", g, "-map", "[v]", "-frames:v", str(n), "-c:v", "libx264", "-preset",
            "veryfast", "-crf", "16", "-an", str(out)]
    subprocess.run(cmd, check=True)
    return n / FPS


def plan(rng, shape, positive, catalogue, distractors, durations):
    """The pieces of one upload: (source, start, length, from the catalogue)."""
    if shape != "recap":
        pool = catalogue if positive else distractors
        v, start, length = M.pick_excerpt(rng, pool, durations, 4, 15)
        return [(v, start, length, positive)]
    # Episodes long enough for several cuts.
    pool = [v for v in (catalogue if positive else distractors) if durations[v] >= 15]
    episodes = rng.sample(pool, k=min(len(pool), rng.choice([1, 1, 2, 3])))
    pieces = []
    for v in episodes:
        d = durations[v]
        t = rng.uniform(0, d * 0.2)
        for _ in range(rng.randint(3, 8)):
            length = min(rng.uniform(1.5, 6), d - t - 0.2)
            if length < 1.5:
                break
            pieces.append((v, t, length, positive))
            t += length + rng.uniform(0.3, 4)  # story order, with skips
            if rng.random() < 0.3:
                pieces.append((*M.pick_excerpt(rng, distractors, durations, 1.5, 4), False))
    return pieces


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    footage = Path(__file__).resolve().parents[1].parent / "shared" / "footage"
    ap.add_argument("--footage", default=str(footage))
    ap.add_argument("--catalogues", default="catalogue,catalogue2")
    ap.add_argument("--distractors", default="distractors,distractors2")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--positives", type=int, default=24)
    ap.add_argument("--negatives", type=int, default=12)
    ap.add_argument("--prefix", default="r")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    root = Path(a.footage)
    catalogue = [v for f in a.catalogues.split(",") for v in M.list_videos(root / f)]
    distractors = [v for f in a.distractors.split(",") for v in M.list_videos(root / f)]
    durations = {v: M.probe_duration(v) for v in catalogue + distractors}
    catalogue = [v for v in catalogue if durations[v] > 3]
    distractors = [v for v in distractors if durations[v] > 3]
    out = Path(a.out)
    (out / "queries").mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="recaps-"))
    kinds = ["pos"] * a.positives + ["neg"] * a.negatives
    rng.shuffle(kinds)
    truth, meta = [], []
    for i, kind in enumerate(kinds, start=1):
        qid = f"{a.prefix}{i:04d}"
        shape = rng.choice(SHAPES)
        up = Upload(rng, shape)
        photo = (rng.choice(distractors), rng.uniform(0, 3))
        parts, t = [], 0.0
        for j, (src, start, length, is_cat) in enumerate(plan(rng, shape, kind == "pos", catalogue, distractors,
                                                                durations)):
            part = tmp / f"{qid}_{j}.mp4"
            dur = render(src, start, length, up, photo, part)
            if is_cat:
                truth.append([qid, round(t, 3), round(t + dur, 3), src.stem, round(start, 3),
                              round(start + dur * up.speed, 3)])
            parts.append(part)
            t += dur
        style = M.Style(random.Random(0), [], 0)
        style.crf = up.crf
        M.concat(parts, style, out / "queries" / f"{qid}.mp4", with_audio=False)
        for p in parts:
            p.unlink()
        edits = [shape] + (["hflip"] if up.mirror else []) + (["speed"] if up.speed != 1.0 else [])
        meta.append([qid, round(t, 3), int(kind == "pos"),
                     json.dumps({"canvas": f"{up.size[0]}x{up.size[1]}", "edits": edits, "speed": up.speed})])
        print(f"{qid} {kind} {t:5.1f}s {edits}", file=sys.stderr)
    with open(out / "ground_truth.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["query_id", "query_start", "query_end", "ref_id", "ref_start", "ref_end"])
        w.writerows(truth)
    with open(out / "queries.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["query_id", "duration", "positive", "edits"])
        w.writerows(meta)
    tmp.rmdir()


if __name__ == "__main__":
    main()
