package plan

// EvenFrames picks n frame numbers spread evenly over window w (both ends
// inclusive): frame k (k < n) is w.Start + floor((k+0.5)*len/n), the middle
// of the k-th of n equal parts. n >= len gives every frame of the window;
// n <= 0 (or an empty window) gives none. The numbers are strictly ascending.
func EvenFrames(w Window, n int) []int {
	length := w.NumFrames()
	if n <= 0 || length <= 0 {
		return nil
	}
	n = min(n, length)
	frames := make([]int, n)
	for k := range frames {
		// floor((k+0.5)*len/n) in integers: floor((2k+1)*len / 2n).
		frames[k] = w.Start + (2*k+1)*length/(2*n)
	}
	return frames
}
