package plan

import (
	"fmt"
	"math"
	"strconv"

	"github.com/google/uuid"
)

// Span is one clip of a source video: [Start, End) in seconds and the frame
// numbers that name it. For fixed stride the frames are int(seconds * fps),
// truncated as Python's int() does (docs/formats.md §2).
type Span struct {
	Start, End           float64
	StartFrame, EndFrame int
}

// Duration is End - Start in seconds.
func (s Span) Duration() float64 { return s.End - s.Start }

// StrideParams configure fixed-stride splitting, in seconds.
type StrideParams struct {
	ClipLen    float64 // length of a clip
	Stride     float64 // distance between the starts of two clips
	MinClipLen float64 // a clip shorter than this (the last one) is dropped
}

// DefaultStride are NeMo Curator's defaults: 10 s clips every 10 s, at least 2 s.
func DefaultStride() StrideParams {
	return StrideParams{ClipLen: 10, Stride: 10, MinClipLen: 2}
}

// Validate checks that every value is positive and finite and that
// MinClipLen <= ClipLen (otherwise no clip could ever be kept).
func (p StrideParams) Validate() error {
	for _, v := range []struct {
		name  string
		value float64
	}{{"clip length", p.ClipLen}, {"stride", p.Stride}, {"minimum clip length", p.MinClipLen}} {
		if !(v.value > 0) || math.IsInf(v.value, 0) {
			return fmt.Errorf("fixed stride: %s must be a positive number of seconds, got %v", v.name, v.value)
		}
	}
	if p.MinClipLen > p.ClipLen {
		return fmt.Errorf("fixed stride: minimum clip length %v s is longer than the clip length %v s",
			p.MinClipLen, p.ClipLen)
	}
	return nil
}

// FixedStride splits a video of numFrames frames at fps into spans as NeMo
// Curator's FixedStrideExtractorStage does (docs/formats.md §6): duration =
// numFrames/fps; from start = 0 while start < duration, end = min(start +
// ClipLen, duration), keep the span if end - start >= MinClipLen, then
// start += Stride. The start accumulates by repeated float64 addition exactly
// like NeMo's Python loop (so a 0.1 s stride reaches 0.30000000000000004, not
// 0.3), which keeps frame numbers, and so uuids, identical to NeMo's.
// Invalid params, fps <= 0 or numFrames <= 0 give no spans.
func FixedStride(numFrames int, fps float64, p StrideParams) []Span {
	if p.Validate() != nil || !(fps > 0) || math.IsInf(fps, 0) || numFrames <= 0 {
		return nil
	}
	duration := float64(numFrames) / fps
	var spans []Span
	for start := 0.0; start < duration; start += p.Stride {
		end := math.Min(start+p.ClipLen, duration)
		if end-start >= p.MinClipLen {
			spans = append(spans, Span{
				Start:      start,
				End:        end,
				StartFrame: pythonInt(start * fps),
				EndFrame:   pythonInt(end * fps),
			})
		}
	}
	return spans
}

// pythonInt truncates toward zero, as Python's int(float) does (299.7 -> 299).
func pythonInt(x float64) int { return int(x) }

// SpanUUID is the clip identity of docs/formats.md §2:
// uuid5(NAMESPACE_URL, f"{source}_{start_frame}_{end_frame}"), source being
// the source video's absolute path as given.
func SpanUUID(source string, s Span) uuid.UUID {
	name := source + "_" + strconv.Itoa(s.StartFrame) + "_" + strconv.Itoa(s.EndFrame)
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name))
}

// ChunkUUID is the identity of the chunkIndex-th clip chunk of a source
// video: uuid5(NAMESPACE_URL, f"{source}_{chunk_index}").
func ChunkUUID(source string, chunkIndex int) uuid.UUID {
	name := source + "_" + strconv.Itoa(chunkIndex)
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name))
}
