package plan

// ChunkSeconds is the clip time that closes a chunk: NeMo Curator's
// num_clips_per_chunk (32) × 8 s.
const ChunkSeconds = 256

// GroupChunks groups the clips of one video into chunks as NeMo Curator's
// ClipTranscodingStage does (docs/formats.md §2), with the 256 s limit.
func GroupChunks(spans []Span) [][]Span {
	return GroupChunksLimit(spans, ChunkSeconds)
}

// GroupChunksLimit groups spans, in order, into chunks: each span adds
// int(End - Start) seconds (truncated, as Python's int()) to the running
// chunk, and the chunk closes as soon as that sum reaches limitSeconds; the
// spans left at the end form a last, smaller chunk. So 26 clips of 10 s make
// one chunk of 26 (260 >= 256) and 32 clips of 8 s one of 32. A clip shorter
// than 1 s adds nothing. No spans give no chunks; a limit <= 0 puts every
// span in a chunk of its own. Chunks share the backing array of spans but
// have their capacity cut, so appending to one never overwrites another.
func GroupChunksLimit(spans []Span, limitSeconds int) [][]Span {
	var chunks [][]Span
	first, seconds := 0, 0
	for i, s := range spans {
		seconds += pythonInt(s.End - s.Start)
		if seconds >= limitSeconds {
			chunks = append(chunks, spans[first:i+1:i+1])
			first, seconds = i+1, 0
		}
	}
	if first < len(spans) {
		chunks = append(chunks, spans[first:len(spans):len(spans)])
	}
	return chunks
}
