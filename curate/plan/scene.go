package plan

import (
	"fmt"
	"math"
)

// SceneParams configure scene splitting. Threshold and MinSceneLen drive the
// detector; MaxLength, MinLength and Crop, in seconds, shape the scenes into
// clips (0 disables that rule).
type SceneParams struct {
	Threshold   float64 // a frame whose content score reaches this starts a new scene
	MinSceneLen int     // frames: no cut closer than this to the previous cut or the start
	MaxLength   float64 // a longer scene is cut into pieces of this length
	MinLength   float64 // a shorter clip (or last piece of a long scene) is dropped
	Crop        float64 // trimmed from both ends of every clip
}

// DefaultSceneParams are ContentDetector's defaults (threshold 27, 15 frames)
// and NeMo Curator's clip rules (10 s pieces, at least 2 s, 0.5 s cropped).
func DefaultSceneParams() SceneParams {
	return SceneParams{Threshold: 27, MinSceneLen: 15, MaxLength: 10, MinLength: 2, Crop: 0.5}
}

// Validate checks that every value is finite and not negative, that the
// threshold is positive, that MinSceneLen is at least one frame and that
// MinLength <= MaxLength when both are set (otherwise no clip could be kept).
func (p SceneParams) Validate() error {
	if !(p.Threshold > 0) || math.IsInf(p.Threshold, 0) {
		return fmt.Errorf("scene splitting: threshold must be a positive number, got %v", p.Threshold)
	}
	if p.MinSceneLen < 1 {
		return fmt.Errorf("scene splitting: minimum scene length must be at least 1 frame, got %d", p.MinSceneLen)
	}
	for _, v := range []struct {
		name  string
		value float64
	}{{"maximum clip length", p.MaxLength}, {"minimum clip length", p.MinLength}, {"crop", p.Crop}} {
		if !(v.value >= 0) || math.IsInf(v.value, 0) {
			return fmt.Errorf("scene splitting: %s must be a number of seconds, 0 or more, got %v", v.name, v.value)
		}
	}
	if p.MaxLength > 0 && p.MinLength > p.MaxLength {
		return fmt.Errorf("scene splitting: minimum clip length %v s is longer than the maximum clip length %v s",
			p.MinLength, p.MaxLength)
	}
	return nil
}

// ScenesFromCuts turns the cuts of a video of numFrames frames into scenes
// [start, end) of frame numbers: [0, c1), [c1, c2), ..., [ck, numFrames);
// with no cut the whole video is one scene. Cuts must increase; a cut at 0,
// at or past numFrames, or not after the previous one is ignored.
func ScenesFromCuts(cuts []int, numFrames int) [][2]int {
	if numFrames <= 0 {
		return nil
	}
	scenes := make([][2]int, 0, len(cuts)+1)
	start := 0
	for _, c := range cuts {
		if c <= start || c >= numFrames {
			continue
		}
		scenes = append(scenes, [2]int{start, c})
		start = c
	}
	return append(scenes, [2]int{start, numFrames})
}

// FilterScenes shapes scenes into clips as NeMo Curator's TransNetV2 stage
// does (_get_filtered_scenes, stride mode), with lengths in frames taken as
// int(seconds * fps): scenes longer than MaxLength are cut into MaxLength
// pieces, a last piece shorter than MinLength being dropped; Crop is trimmed
// from both ends and scenes left empty are dropped; scenes shorter than
// MinLength are dropped. A MaxLength under one frame counts as one frame
// (NeMo would loop forever). fps <= 0 or invalid params give no scenes.
func FilterScenes(scenes [][2]int, fps float64, p SceneParams) [][2]int {
	if p.Validate() != nil || !(fps > 0) || math.IsInf(fps, 0) {
		return nil
	}
	minLength := pythonInt(p.MinLength * fps)
	if p.MaxLength > 0 {
		maxLength := max(1, pythonInt(p.MaxLength*fps))
		var pieces [][2]int
		for _, s := range scenes {
			pieces = appendScenePieces(pieces, s[0], s[1], maxLength, minLength)
		}
		scenes = pieces
	}
	var kept [][2]int
	crop := pythonInt(p.Crop * fps)
	for _, s := range scenes {
		start, end := s[0]+crop, s[1]-crop
		if end-start > 0 && end-start >= minLength {
			kept = append(kept, [2]int{start, end})
		}
	}
	return kept
}

// appendScenePieces is NeMo's _create_spans: [start, end) cut into pieces of
// maxLength frames, the last one dropped when shorter than minLength (> 0).
func appendScenePieces(pieces [][2]int, start, end, maxLength, minLength int) [][2]int {
	for cur := start; cur < end; {
		pieceEnd := min(cur+maxLength, end)
		if minLength > 0 && pieceEnd-cur < minLength && pieceEnd == end {
			break
		}
		pieces = append(pieces, [2]int{cur, pieceEnd})
		cur = pieceEnd
	}
	return pieces
}

// SceneSpans is the clips of a video of numFrames frames (as DetectCuts
// counted them) at fps whose cuts DetectCuts found: ScenesFromCuts, then
// FilterScenes, then SpansOfScenes.
func SceneSpans(cuts []int, numFrames int, fps float64, p SceneParams) []Span {
	return SpansOfScenes(FilterScenes(ScenesFromCuts(cuts, numFrames), fps, p), fps)
}

// SpansOfScenes turns each scene [s, e) of frame numbers into the span from
// s/fps to e/fps seconds named by frames s and e, as NeMo's clip spans are.
func SpansOfScenes(scenes [][2]int, fps float64) []Span {
	if len(scenes) == 0 {
		return nil
	}
	spans := make([]Span, len(scenes))
	for i, s := range scenes {
		spans[i] = Span{Start: float64(s[0]) / fps, End: float64(s[1]) / fps, StartFrame: s[0], EndFrame: s[1]}
	}
	return spans
}
