#!/usr/bin/env bash
# Fuzzes the archive reader and the decode entry point with cargo-fuzz (libFuzzer, the
# nightly toolchain), each for SECONDS (default 300), from seed inputs made here: small
# tar, tar.gz, tar.zst and zip archives, and short H.264, MPEG-4 and VP9 clips.
# Crashes land in fuzz/artifacts/TARGET/.
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
seeds=fuzz/corpus
mkdir -p "$seeds/archive" "$seeds/decode"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ff() { ffmpeg -v error -y -f lavfi -i testsrc2=size=64x48:rate=10 -t 0.5 "$@"; }
ff -c:v libx264 -pix_fmt yuv420p "$seeds/decode/h264.mp4"
ff -c:v mpeg4 "$seeds/decode/mpeg4.avi"
ff -c:v libvpx-vp9 "$seeds/decode/vp9.webm" 2>/dev/null || true
cp "$seeds/decode/h264.mp4" "$work/a.mp4"
head -c 300 /dev/urandom > "$work/b.mp4"
tar -C "$work" -cf "$seeds/archive/plain.tar" a.mp4 b.mp4
tar -C "$work" -czf "$seeds/archive/gz.tar.gz" a.mp4 b.mp4
tar -C "$work" -cf - a.mp4 b.mp4 | zstd -q -o "$seeds/archive/zst.tar.zst" -f
(cd "$work" && python3 -c "import zipfile; z=zipfile.ZipFile('s.zip','w'); z.write('a.mp4'); z.write('b.mp4'); z.close()")
cp "$work/s.zip" "$seeds/archive/"
cd fuzz
for target in archive decode; do
  echo "== fuzzing $target for $seconds s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30
done
