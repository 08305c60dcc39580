#!/usr/bin/env bash
# Generates the bundled sample: a catalogue of three synthetic "episodes" and an archive
# of uploads edited the way short-video uploaders edit clips. Needs only the ffmpeg CLI.
#   scripts/make_sample.sh DIR
# DIR/catalogue/ep{1,2,3}.mp4, DIR/metadata.csv, DIR/uploads.tar.gz, DIR/ground_truth.csv
set -euo pipefail
out=${1:?usage: make_sample.sh DIR}
mkdir -p "$out/catalogue" "$out/uploads"
out=$(cd "$out" && pwd)  # absolute: the concat list below resolves paths from its own folder
ff() { ffmpeg -v error -y "$@"; }
enc=(-c:v libx264 -preset veryfast -pix_fmt yuv420p)

# Episodes: fractal zooms and a cellular automaton, 20 s each at 640x360.
ff -f lavfi -i "mandelbrot=size=640x360:rate=25" -t 20 "${enc[@]}" "$out/catalogue/ep1.mp4"
ff -f lavfi -i "mandelbrot=size=640x360:rate=25:start_x=-0.1011:start_y=0.9563:start_scale=2" -t 20 "${enc[@]}" "$out/catalogue/ep2.mp4"
ff -f lavfi -i "life=size=320x180:rate=25:seed=7:ratio=0.2:mold=20:life_color=#ffee88:death_color=#203060:mold_color=#402010,scale=640:360:flags=neighbor" -t 20 "${enc[@]}" "$out/catalogue/ep3.mp4"

# up1: 3 s of unrelated footage, then ep1 from 5 s to 13 s reframed to 9:16 over a
# blurred copy of itself, with a sticker.
ff -f lavfi -i "life=size=360x640:rate=25:seed=99:ratio=0.3:life_color=#88ff88" -t 3 "${enc[@]}" "$out/intro.mp4"
ff -ss 5 -t 8 -i "$out/catalogue/ep1.mp4" -filter_complex \
  "[0:v]split[a][b];[a]scale=360:640:force_original_aspect_ratio=increase,crop=360:640,gblur=sigma=18[bg];[b]scale=360:-2[fg];[bg][fg]overlay=0:(H-h)/2,drawbox=x=250:y=40:w=80:h=80:color=yellow@0.9:t=fill,fps=25" \
  "${enc[@]}" "$out/clip1.mp4"
printf "file '%s'\nfile '%s'\n" "$out/intro.mp4" "$out/clip1.mp4" > "$out/list.txt"
ff -f concat -safe 0 -i "$out/list.txt" "${enc[@]}" "$out/uploads/up1.mp4"

# up2: ep2 from 2 s, mirrored and played at 1.25x speed, colour-graded, for 6.4 s.
ff -ss 2 -t 9 -i "$out/catalogue/ep2.mp4" -vf "setpts=PTS/1.25,hflip,eq=contrast=1.2:brightness=0.05,fps=30" -t 6.4 "${enc[@]}" "$out/uploads/up2.mp4"

# up3: nothing from the catalogue.
ff -f lavfi -i "cellauto=size=480x480:rate=25:rule=30:random_fill_ratio=0.5,scale=480:480" -t 8 "${enc[@]}" "$out/uploads/up3.mp4"

# broken.mp4: random bytes with a video extension.
head -c 20000 /dev/urandom > "$out/uploads/broken.mp4"

tar -C "$out/uploads" -czf "$out/uploads.tar.gz" up1.mp4 up2.mp4 up3.mp4 broken.mp4
rm -rf "$out/uploads" "$out/intro.mp4" "$out/clip1.mp4" "$out/list.txt"
# Metadata of the episodes (ep3 has none: a video without a row is allowed).
cat > "$out/metadata.csv" <<CSV
video_id,series,season,episode,title,licensor,licence_id,duration_s,rating
ep1,Palace of Fractals,1,1,"The Zoom, Part 1",Mandel Films,LIC-001,20,PG
ep2,Palace of Fractals,1,2,The Mirror,Mandel Films,LIC-002,20,PG
CSV
cat > "$out/ground_truth.csv" <<CSV
query_id,query_start,query_end,ref_id,ref_start,ref_end
up1,3.0,11.0,ep1,5.0,13.0
up2,0.0,6.4,ep2,2.0,10.0
CSV
echo "sample written to $out"
