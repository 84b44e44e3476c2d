#!/usr/bin/env bash
# Regenerates the synthetic scene-detection test videos in this directory.
#
# Every video is built from lavfi sources only (no fonts, no input files) and
# encoded with a single-threaded libx264 and bitexact muxing, so two runs with
# the same ffmpeg/x264 build give byte-identical files (checked with
# sha256sum over two runs).  Sources that are random by default get fixed
# parameters: life a seed, gradients explicit colours and end points (its
# "random" colours ignore seed=).
#
# Expected PySceneDetect 0.7.1 results for these files are in expected.json,
# produced by:  /usr/bin/python3 pyscenedetect.py *.mp4 > expected.json
# (PYTHONPATH pointing at the PySceneDetect source).
#
# Usage: ./make.sh [outdir]   (default: the directory of this script)
set -euo pipefail

OUT=${1:-$(cd "$(dirname "$0")" && pwd)}
mkdir -p "$OUT"

FF=(ffmpeg -hide_banner -loglevel error -nostdin -y -filter_threads 1 -filter_complex_threads 1)
# -threads 1 makes x264 single-threaded (threads=1, lookahead-threads=1), the
# only way x264 output is reproducible; bitexact keeps version strings of
# libavformat/libavcodec out of the file.
ENC=(-an -c:v libx264 -preset medium -crf 36 -g 50 -pix_fmt yuv420p -threads 1
     -fflags +bitexact -flags:v +bitexact -map_metadata -1 -map_chapters -1
     -movflags +faststart)

# seg LABEL SOURCE FRAMES [EXTRA_FILTERS]: FRAMES frames of SOURCE as yuv420p.
seg() {
	echo -n "$2,trim=end_frame=$3,setpts=PTS-STARTPTS${4:+,$4},format=yuv420p,setsar=1[$1];"
}

# concat_segs N: "[s0][s1]...[sN-1]concat=n=N:v=1:a=0[v]"
concat_segs() {
	local i s=""
	for ((i = 0; i < $1; i++)); do s+="[s$i]"; done
	echo -n "${s}concat=n=$1:v=1:a=0[v]"
}

enc() { # enc NAME FILTERGRAPH [extra args...]
	local name=$1 graph=$2
	shift 2
	"${FF[@]}" -filter_complex "$graph" -map '[v]' "${ENC[@]}" "$@" "$OUT/$name.mp4"
}

# --- hardcuts: 640x360 @25, 225 frames, content changes at 45 80 110 140 160 200 -------
S=640x360 R=25
enc hardcuts "$(
	seg s0 "testsrc2=s=$S:r=$R" 45
	seg s1 "smptebars=s=$S:r=$R" 35
	seg s2 "mandelbrot=s=$S:r=$R" 30
	seg s3 "rgbtestsrc=s=$S:r=$R" 30
	seg s4 "color=c=navy:s=$S:r=$R" 20
	seg s5 "gradients=s=$S:r=$R:c0=orange:c1=yellow:x0=0:y0=0:x1=160:y1=90:speed=0.02" 40
	seg s6 "pal75bars=s=$S:r=$R" 25
	concat_segs 7
)"

# --- fades: 640x360 @25, 250 frames -------------------------
# 0-59 testsrc, fading out to black over 35-59; 60-69 black; 70-129 mandelbrot
# fading in from black over 70-94 and out to white over 110-129; 130-179
# gradients fading in from white over 130-149; 180-219 smptebars with a fast
# 4-frame fade to black at 216-219; 220-249 testsrc2 with a 4-frame fade in.
enc fades "$(
	seg s0 "testsrc=s=$S:r=$R" 60 "fade=t=out:start_frame=35:nb_frames=25"
	seg s1 "color=c=black:s=$S:r=$R" 10
	seg s2 "mandelbrot=s=$S:r=$R" 60 "fade=t=in:start_frame=0:nb_frames=25,fade=t=out:start_frame=40:nb_frames=20:color=white"
	seg s3 "gradients=s=$S:r=$R:c0=crimson:c1=skyblue:x0=0:y0=0:x1=160:y1=90:speed=0.02" 50 "fade=t=in:start_frame=0:nb_frames=20:color=white"
	seg s4 "smptebars=s=$S:r=$R" 40 "fade=t=out:start_frame=36:nb_frames=4"
	seg s5 "testsrc2=s=$S:r=$R" 30 "fade=t=in:start_frame=0:nb_frames=4"
	concat_segs 6
)"

# --- dissolves: 640x360 @30, 240 frames ---------------------
# testsrc -> mandelbrot: 1 s dissolve (frames 30-59); -> testsrc2: 0.3 s
# dissolve (105-113); -> gradients: 0.1 s (3 frame) dissolve (144-146);
# -> rgbtestsrc: 0.5 s wipeleft (180-194).
R=30
enc dissolves "$(
	seg a "testsrc=s=$S:r=$R" 60
	seg b "mandelbrot=s=$S:r=$R" 90
	seg c "testsrc2=s=$S:r=$R" 45
	seg d "gradients=s=$S:r=$R:c0=lime:c1=magenta:x0=0:y0=0:x1=160:y1=90:speed=0.02" 60
	seg e "rgbtestsrc=s=$S:r=$R" 60
	echo -n "[a][b]xfade=transition=fade:duration=1:offset=1[ab];"
	echo -n "[ab][c]xfade=transition=fade:duration=0.3:offset=3.5[abc];"
	echo -n "[abc][d]xfade=transition=fade:duration=0.1:offset=4.8[abcd];"
	echo -n "[abcd][e]xfade=transition=wipeleft:duration=0.5:offset=6,format=yuv420p[v]"
)"

# --- flashes: 640x360 @30, 330 frames -----------------------
# One testsrc shot with short flashes overlaid: white at 8-10 (before any
# cut), white 60-61 (2 frames), white 120-124 (5), smptebars 180-189 (10);
# hard cut to mandelbrot at 240, then white 248-250 (3, right after the cut)
# and a 14-frame rgbtestsrc flash at 280-293.
enc flashes "$(
	echo -n "testsrc=s=$S:r=$R,format=yuv420p[base];"
	echo -n "color=c=white:s=$S:r=$R,format=yuv420p[w];"
	echo -n "smptebars=s=$S:r=$R,format=yuv420p[bars];"
	echo -n "mandelbrot=s=$S:r=$R,format=yuv420p[m];"
	echo -n "rgbtestsrc=s=$S:r=$R,format=yuv420p[rgb];"
	echo -n "[base][m]overlay=enable='gte(n,240)'[x1];"
	echo -n "[x1][w]overlay=enable='between(n,8,10)+between(n,60,61)+between(n,120,124)+between(n,248,250)'[x2];"
	echo -n "[x2][bars]overlay=enable='between(n,180,189)'[x3];"
	echo -n "[x3][rgb]overlay=enable='between(n,280,293)',trim=end_frame=330,setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v]"
)"

# --- closecuts: 640x360 @25, segments 30 5 10 14 15 16 30 40 15 30 ------------
# content changes at 30 35 45 59 74 90 120 160 175
R=25
SRCS=("testsrc2=s=$S:r=$R" "smptebars=s=$S:r=$R" "mandelbrot=s=$S:r=$R"
      "rgbtestsrc=s=$S:r=$R" "color=c=magenta:s=$S:r=$R" "gradients=s=$S:r=$R:c0=yellow:c1=darkgreen:x0=0:y0=0:x1=160:y1=90:speed=0.02"
      "pal75bars=s=$S:r=$R" "color=c=teal:s=$S:r=$R" "yuvtestsrc=s=$S:r=$R" "testsrc2=s=$S:r=$R")
closecuts() { # closecuts NAME LEN...
	local name=$1 g="" i=0 n
	shift
	for n in "$@"; do
		g+=$(seg "s$i" "${SRCS[$((i % ${#SRCS[@]}))]}" "$n")
		i=$((i + 1))
	done
	enc "$name" "$g$(concat_segs $i)"
}
closecuts closecuts 30 5 10 14 15 16 30 40 15 30

# --- closecuts_ntsc: same idea at 30000/1001 fps (15 frames = 0.5005 s) ------
# segments 30 15 15 16 14 30 40 20: changes at 30 45 60 76 90 120 160
R=30000/1001
SRCS=("testsrc2=s=$S:r=$R" "smptebars=s=$S:r=$R" "mandelbrot=s=$S:r=$R"
      "rgbtestsrc=s=$S:r=$R" "color=c=magenta:s=$S:r=$R" "gradients=s=$S:r=$R:c0=yellow:c1=darkgreen:x0=0:y0=0:x1=160:y1=90:speed=0.02"
      "pal75bars=s=$S:r=$R" "color=c=teal:s=$S:r=$R" "yuvtestsrc=s=$S:r=$R" "testsrc2=s=$S:r=$R")
closecuts closecuts_ntsc 30 15 15 16 14 30 40 20

# --- vfr: 640x360, segments at 24 and 30 fps, timescale 120 ------------------
# testsrc2@24 48 | smptebars@30 60 | mandelbrot@24 14 | rgbtestsrc@30 15 |
# gradients@30 45 | testsrc2@24 36 | color@30 30 | pal75bars@24 15
# (content changes at decode index 48 108 122 137 182 218 248)
vseg() { # vseg LABEL SRC RATE FRAMES
	echo -n "$2:r=$3,trim=end_frame=$4,setpts=PTS-STARTPTS,format=yuv420p,setsar=1,settb=1/120[$1];"
}
enc vfr "$(
	vseg s0 "testsrc2=s=$S" 24 48
	vseg s1 "smptebars=s=$S" 30 60
	vseg s2 "mandelbrot=s=$S" 24 14
	vseg s3 "rgbtestsrc=s=$S" 30 15
	vseg s4 "gradients=s=$S:c0=gold:c1=indigo:x0=0:y0=0:x1=160:y1=90:speed=0.02" 30 45
	vseg s5 "testsrc2=s=$S" 24 36
	vseg s6 "color=c=olive:s=$S" 30 30
	vseg s7 "pal75bars=s=$S" 24 15
	echo -n "[s0][s1][s2][s3][s4][s5][s6][s7]concat=n=8:v=1:a=0,settb=1/120[v]"
)" -fps_mode vfr -video_track_timescale 120

# --- counter: 320x240 @30, 180 frames of testsrc (counter digits, slow change) -
enc counter "$(seg s0 "testsrc=s=320x240:r=30" 180 && concat_segs 1)"

# --- bigframe: 1280x720 @25, 100 frames, content changes at 25 50 75 ---
S=1280x720 R=25
enc bigframe "$(
	seg s0 "smptehdbars=s=$S:r=$R" 25
	seg s1 "testsrc2=s=$S:r=$R" 25
	seg s2 "mandelbrot=s=$S:r=$R" 25
	seg s3 "yuvtestsrc=s=$S:r=$R" 25
	concat_segs 4
)"

# --- oddsize: 854x480 @24 (factor 3.3359375 -> 256x144), content changes at 30 60 90 ---
S=854x480 R=24
enc oddsize "$(
	seg s0 "testsrc2=s=$S:r=$R" 30
	seg s1 "gradients=s=$S:r=$R:c0=white:c1=darkred:x0=0:y0=0:x1=160:y1=90:speed=0.02" 30
	seg s2 "colorchart=r=$R:patch_size=142x160" 30 "scale=854:480"
	seg s3 "pal75bars=s=$S:r=$R" 30
	concat_segs 4
)"

# --- roundhalf: 1024x578 @25 (578/4 = 144.5; Python's round() gives 144) ----
S=1024x578 R=25
enc roundhalf "$(
	seg s0 "testsrc2=s=$S:r=$R" 25
	seg s1 "rgbtestsrc=s=$S:r=$R" 25
	seg s2 "gradients=s=$S:r=$R:c0=coral:c1=navy:x0=0:y0=0:x1=160:y1=90:speed=0.02" 25
	concat_segs 3
)"

# --- portrait: 360x640 @25 (downscale uses the longer side: 640/256 = 2.5) ---
S=360x640 R=25
enc portrait "$(
	seg s0 "testsrc2=s=$S:r=$R" 30
	seg s1 "smptebars=s=$S:r=$R" 30
	seg s2 "mandelbrot=s=$S:r=$R" 30
	concat_segs 3
)"

# --- tiny: 192x108 @25 (longer side < 256: no downscale), content changes at 25 50 ------
S=192x108 R=25
enc tiny "$(
	seg s0 "testsrc2=s=$S:r=$R" 25
	seg s1 "smptebars=s=$S:r=$R" 25
	seg s2 "life=s=$S:r=$R:seed=1:mold=10:life_color=#00ff00:death_color=#aa0000" 25
	concat_segs 3
)"
