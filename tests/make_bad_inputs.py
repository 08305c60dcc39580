"""Writes the bad inputs of tests/bad_inputs.rs (and the fuzz seed corpus) into a folder:

    python3 tests/make_bad_inputs.py OUT

OUT/good.mp4        a valid 3 s clip (the control)
OUT/bad.tar         one member per bad case, with good clips between them
OUT/damaged.tar.gz  good, good, then cut in the middle of a third member
OUT/bomb.tar.gz     a 64 MiB member of zeros (compresses to ~64 KiB) and a good clip
OUT/expected.tsv    member, expected status, expected error kind, for bad.tar
"""
import io
import os
import subprocess
import sys
import tarfile
import zipfile


# tarfile's type flags are bytes too: told apart from contents by value.
LINKS_AND_DEVICES = (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           p("good.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-c:a", "aac", p("audio.m4a"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", p("still.png"))
    good = open(p("good.mp4"), "rb").read()

    # An mp4 whose movie header claims 2^32-16 seconds.
    absurd_duration = bytearray(good)
    i = absurd_duration.find(b"mvhd")
    assert absurd_duration[i + 4] == 0, "version 0 mvhd"
    absurd_duration[i + 16:i + 20] = (1).to_bytes(4, "big")  # timescale 1/s
    absurd_duration[i + 20:i + 24] = (0xFFFFFFF0).to_bytes(4, "big")
    # A raw YUV4MPEG stream announcing 9000x9000 pictures (81 megapixels), with a few bytes of one.
    absurd_size = b"YUV4MPEG2 W9000 H9000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096)
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as z:
        z.writestr("inner.mp4", good)

    cases = [  # (member name, bytes or a tar type, expected status, expected kind)
        ("ok/first.mp4", good, "ok", ""),
        ("zero.mp4", b"", "failed", "unreadable"),
        ("truncated.mp4", good[: len(good) // 3], "failed", "unreadable"),
        ("random.mp4", os.urandom(50000), "failed", "unreadable"),
        ("audio_only.m4a", open(p("audio.m4a"), "rb").read(), "failed", "unreadable"),
        ("still.png", open(p("still.png"), "rb").read(), "ok", ""),
        ("absurd_duration.mp4", bytes(absurd_duration), "failed", "limit"),
        ("absurd_size.y4m", absurd_size, "failed", "limit"),
        ("../escape.mp4", good, "ok", ""),
        ("/absolute/path.mp4", good, "ok", ""),
        ("nested.zip", nested.getvalue(), "failed", "nested_archive"),
        ("symlink.mp4", tarfile.SYMTYPE, "failed", "not_a_file"),
        ("hardlink.mp4", tarfile.LNKTYPE, "failed", "not_a_file"),
        ("device", tarfile.CHRTYPE, "failed", "not_a_file"),
        ("fifo", tarfile.FIFOTYPE, "failed", "not_a_file"),
        ("ok/last.mp4", good, "ok", ""),
    ]
    with tarfile.open(p("bad.tar"), "w", format=tarfile.GNU_FORMAT) as t, open(p("expected.tsv"), "w") as e:
        for name, data, status, kind in cases:
            info = tarfile.TarInfo(name)
            if data not in LINKS_AND_DEVICES:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                info.type = data
                info.linkname = "ok/first.mp4" if data in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                t.addfile(info)
            e.write(f"{name}\t{status}\t{kind}\n")

    whole = io.BytesIO()
    with tarfile.open(fileobj=whole, mode="w:gz") as t:
        for name in ["a.mp4", "b.mp4", "c.mp4"]:
            info = tarfile.TarInfo(name)
            info.size = len(good)
            t.addfile(info, io.BytesIO(good))
    data = whole.getvalue()
    # Cut inside c.mp4: the gzip stream ends early and c's bytes run out.
    open(p("damaged.tar.gz"), "wb").write(data[: int(len(data) * 0.8)])

    with tarfile.open(p("bomb.tar.gz"), "w:gz") as t:
        info = tarfile.TarInfo("zeros.mp4")
        info.size = 64 << 20
        t.addfile(info, io.BytesIO(bytes(info.size)))
        info = tarfile.TarInfo("after.mp4")
        info.size = len(good)
        t.addfile(info, io.BytesIO(good))
    for f in ["audio.m4a", "still.png"]:
        os.remove(p(f))


if __name__ == "__main__":
    main()
