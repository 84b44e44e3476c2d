#!/usr/bin/env bash
# make-samples.sh OUTDIR [--small]
#
# Generates sample source videos for curation tests and demos with ffmpeg's
# lavfi sources (testsrc, testsrc2, smptebars, mandelbrot, sine): several
# resolutions, frame rates (24, 25, 30, 29.97), durations (1.5 s to 35 s),
# with and without audio, in .mp4 .mov .mkv .webm .avi, in nested folders,
# with one name containing spaces and one non-ASCII name.
#
# Output is deterministic for a given ffmpeg build: bit-exact muxing, no
# metadata, one encoder thread per file (files are made in parallel instead).
# --small makes a quick subset (a handful of short files) for tests.
#
# Audio codecs are chosen so that curation meets the hard cases: PCM in .avi
# and .mov, FLAC in .mkv (none of which MP4 accepts by stream copy), Opus in
# .webm, AAC in .mp4.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [--small]" >&2; exit 2; }

[[ $# -ge 1 && $# -le 2 ]] || usage
out=$1
small=0
if [[ $# -eq 2 ]]; then
	[[ $2 == --small ]] || usage
	small=1
fi
command -v ffmpeg >/dev/null || { echo "$0: ffmpeg not found in PATH" >&2; exit 1; }
mkdir -p -- "$out"

exact=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 -threads 1)
x264=(-c:v libx264 -preset ultrafast -crf 30 -pix_fmt yuv420p)
vp8=(-c:v libvpx -deadline good -cpu-used 5 -b:v 400k -pix_fmt yuv420p)
mpeg4=(-c:v mpeg4 -q:v 6)

# sample NAME SOURCE SIZE RATE SECONDS AUDIO VIDEO_CODEC_ARGS...
#   SOURCE: a lavfi video source (testsrc2, smptebars, ...)
#   AUDIO:  an ffmpeg audio codec (aac, pcm_s16le, libopus, flac) or "none"
sample() {
	local name=$1 src=$2 size=$3 rate=$4 secs=$5 audio=$6
	shift 6
	local inputs=(-f lavfi -i "$src=size=$size:rate=$rate")
	local acodec=(-an)
	if [[ $audio != none ]]; then
		inputs+=(-f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000")
		acodec=(-c:a "$audio")
	fi
	mkdir -p -- "$(dirname -- "$out/$name")"
	ffmpeg -nostdin -v error -y "${inputs[@]}" -t "$secs" "$@" "${acodec[@]}" \
		"${exact[@]}" "file:$out/$name"
}

# jobs: one line each, fields separated by '|': name|source|size|rate|secs|audio|codec
if [[ $small -eq 1 ]]; then
	jobs=(
		"clip_320x240_25fps_7s.mp4|testsrc2|320x240|25|7|aac|x264"
		"a/bars_320x240_2997fps_23s.mp4|smptebars|320x240|30000/1001|23|none|x264"
		"a/b/ünïcode clip.mp4|testsrc2|320x240|24|1.5|aac|x264"
		"a/with spaces.webm|testsrc|320x240|25|3|libopus|vp8"
		"old_320x240_25fps_3s.avi|testsrc2|320x240|25|3|pcm_s16le|mpeg4"
		"a/b/lossless_320x240_24fps_3s.mkv|mandelbrot|320x240|24|3|flac|x264"
	)
else
	jobs=(
		"clip_320x240_25fps_7s.mp4|testsrc2|320x240|25|7|aac|x264"
		"short_320x240_24fps_1.5s.mp4|testsrc2|320x240|24|1.5|none|x264"
		"mandel_320x240_24fps_7s.mov|mandelbrot|320x240|24|7|pcm_s16le|x264"
		"old_320x240_25fps_7s.avi|testsrc2|320x240|25|7|pcm_s16le|mpeg4"
		"a/bars_640x360_30fps_23s.mp4|smptebars|640x360|30|23|none|x264"
		"a/src_640x360_2997fps_35s.mp4|testsrc2|640x360|30000/1001|35|aac|x264"
		"a/flac_640x360_25fps_7s.mkv|testsrc|640x360|25|7|flac|x264"
		"a/with spaces_640x360_24fps_7s.webm|smptebars|640x360|24|7|libopus|vp8"
		"a/b/hd_1280x720_2997fps_23s.mp4|testsrc|1280x720|30000/1001|23|aac|x264"
		"a/b/ünïcode clip.mp4|testsrc2|320x240|30|1.5|aac|x264"
		"a/b/silent_1280x720_30fps_7s.mkv|testsrc|1280x720|30|7|none|x264"
	)
fi

codec_args() {
	case $1 in
	x264) printf '%s\n' "${x264[@]}" ;;
	vp8) printf '%s\n' "${vp8[@]}" ;;
	mpeg4) printf '%s\n' "${mpeg4[@]}" ;;
	*) echo "unknown codec $1" >&2; return 1 ;;
	esac
}

start=$SECONDS
parallel=$(nproc 2>/dev/null || echo 2)
pids=()
for job in "${jobs[@]}"; do
	IFS='|' read -r name src size rate secs audio codec <<<"$job"
	mapfile -t cargs < <(codec_args "$codec")
	sample "$name" "$src" "$size" "$rate" "$secs" "$audio" "${cargs[@]}" &
	pids+=($!)
	if [[ ${#pids[@]} -ge $parallel ]]; then
		wait "${pids[0]}"
		pids=("${pids[@]:1}")
	fi
done
for pid in "${pids[@]}"; do wait "$pid"; done

printf '%-44s %10s  %s\n' FILE BYTES "WxH FPS SECONDS AUDIO"
for job in "${jobs[@]}"; do
	IFS='|' read -r name src size rate secs audio codec <<<"$job"
	printf '%-44s %10s  %s %s %ss %s\n' "$name" "$(stat -c %s -- "$out/$name")" \
		"$size" "$rate" "$secs" "$audio"
done
echo "made ${#jobs[@]} videos in $out in $((SECONDS - start)) s"
