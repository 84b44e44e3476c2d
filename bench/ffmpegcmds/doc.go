// Command ffmpegcmds prints the transcodes `clipfs curate` ran, one shell
// command per clip, for the curate baseline of bench/run.sh:
//
//	ffmpegcmds -export DIR -out DIR [-ffmpeg ffmpeg] | xargs -d '\n' -n 1 -P W sh -c
//
// It reads metas/v0/*.json of an export (`clipfs export --db D --out DIR`):
// source_video and duration_span give media.TranscodeArgs(src, start, end,
// OUT/<span_uuid>.mp4), every argument shell-quoted. Where curate would retry
// because MP4 refuses the copied audio (PCM, FLAC...), it runs ffmpeg again
// with "-c:a aac"; the command does the same with `|| ffmpeg ... -c:a aac ...`
// (-audio-fallback=false leaves that out). Commands are sorted by source and
// start, the order in which curate queues them.
package main
