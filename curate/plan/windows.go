package plan

// Window constants of docs/formats.md §5 (NeMo Curator's split_video_into_windows).
const (
	windowFrames       = 256 // frames in a full window
	windowRemainderMin = 128 // a remainder this long is a window of its own
	windowMinFrames    = 4   // a clip with fewer frames has no window
)

// Window is a run of frames inside one clip, both ends inclusive; previews
// are named after it (<Start>_<End>.webp) and captions are made per window.
type Window struct {
	Start, End int
}

// NumFrames is the number of frames in the window.
func (w Window) NumFrames() int { return w.End - w.Start + 1 }

// Windows cuts a clip of numFrames frames into windows (docs/formats.md §5): fewer
// than 4 frames give none; up to 256 frames give one window [0, N-1];
// longer clips give windows [256i, 256i+255], and the frames left over form
// a window of their own when there are at least 128 of them, otherwise they
// join the last window.
func Windows(numFrames int) []Window {
	if numFrames < windowMinFrames {
		return nil
	}
	if numFrames <= windowFrames {
		return []Window{{Start: 0, End: numFrames - 1}}
	}
	full, remainder := numFrames/windowFrames, numFrames%windowFrames
	windows := make([]Window, 0, full+1)
	for i := range full {
		windows = append(windows, Window{Start: i * windowFrames, End: (i+1)*windowFrames - 1})
	}
	switch {
	case remainder >= windowRemainderMin:
		windows = append(windows, Window{Start: numFrames - remainder, End: numFrames - 1})
	case remainder > 0:
		windows[len(windows)-1].End = numFrames - 1
	}
	return windows
}
