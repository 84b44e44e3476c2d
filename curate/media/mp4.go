package media

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
)

// errNotSimpleMP4 means the file is not the plain, non-fragmented H.264 MP4
// our own transcodes are; the caller falls back to ffprobe.
var errNotSimpleMP4 = errors.New("not a simple H.264 MP4")

// ProbeMP4 reads what docs/formats.md §3 needs of a transcoded clip (size, frame
// count, frame rate, codec) from its MP4 boxes, computed as libavformat's
// mov demuxer computes them for ffprobe: nb_frames is the sum of the stts
// counts and avg_frame_rate is time_scale*frames/duration reduced. It costs
// a few reads instead of an ffprobe process (about 0.25 CPU-seconds each,
// mostly loading libraries). Anything unusual returns errNotSimpleMP4.
func ProbeMP4(path string) (VideoInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return VideoInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return VideoInfo{}, err
	}
	moov, err := findBox(f, 0, st.Size(), "moov")
	if err != nil {
		return VideoInfo{}, err
	}
	for _, trak := range children(moov, "trak") {
		info, ok, err := videoTrack(trak)
		if err != nil || ok {
			info.NumBytes = st.Size()
			return info, err
		}
	}
	return VideoInfo{}, errNotSimpleMP4
}

// findBox reads the top-level box typ of f (its payload).
func findBox(f io.ReaderAt, off, end int64, typ string) ([]byte, error) {
	var hdr [16]byte
	for off+8 <= end {
		if _, err := f.ReadAt(hdr[:8], off); err != nil {
			return nil, err
		}
		size, head := int64(binary.BigEndian.Uint32(hdr[:4])), int64(8)
		if size == 1 {
			if _, err := f.ReadAt(hdr[8:16], off+8); err != nil {
				return nil, err
			}
			size, head = int64(binary.BigEndian.Uint64(hdr[8:16])), 16
		} else if size == 0 {
			size = end - off
		}
		if size < head || off+size > end {
			return nil, errNotSimpleMP4
		}
		if string(hdr[4:8]) == typ {
			if size > 64<<20 {
				return nil, errNotSimpleMP4
			}
			b := make([]byte, size-head)
			_, err := f.ReadAt(b, off+head)
			return b, err
		}
		off += size
	}
	return nil, errNotSimpleMP4
}

// children returns the payloads of the boxes of type typ inside b.
func children(b []byte, typ string) [][]byte {
	var out [][]byte
	for len(b) >= 8 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			return out
		}
		if string(b[4:8]) == typ {
			out = append(out, b[8:size])
		}
		b = b[size:]
	}
	return out
}

func child(b []byte, path ...string) []byte {
	for _, typ := range path {
		c := children(b, typ)
		if len(c) == 0 {
			return nil
		}
		b = c[0]
	}
	return b
}

// videoTrack reads a 'vide' trak; ok is false for other tracks.
func videoTrack(trak []byte) (VideoInfo, bool, error) {
	mdia := child(trak, "mdia")
	hdlr := child(mdia, "hdlr")
	if len(hdlr) < 12 || string(hdlr[8:12]) != "vide" {
		return VideoInfo{}, false, nil
	}
	mdhd, stbl := child(mdia, "mdhd"), child(mdia, "minf", "stbl")
	stsd, stts := child(stbl, "stsd"), child(stbl, "stts")
	if len(mdhd) < 24 || len(stsd) < 8+8+32 || len(stts) < 8 {
		return VideoInfo{}, true, errNotSimpleMP4
	}
	timescale := int64(binary.BigEndian.Uint32(mdhd[12:]))
	if mdhd[0] == 1 {
		if len(mdhd) < 24 {
			return VideoInfo{}, true, errNotSimpleMP4
		}
		timescale = int64(binary.BigEndian.Uint32(mdhd[20:]))
	}
	entry := stsd[8:] // after version/flags and entry count
	if string(entry[4:8]) != "avc1" || binary.BigEndian.Uint32(stsd[4:]) != 1 {
		return VideoInfo{}, true, errNotSimpleMP4
	}
	info := VideoInfo{VideoCodec: "h264",
		Width: int(binary.BigEndian.Uint16(entry[8+24:])), Height: int(binary.BigEndian.Uint16(entry[8+26:]))}
	frames, duration, err := sttsTotals(stts)
	if err != nil || timescale <= 0 || frames <= 0 || duration <= 0 {
		return info, true, errNotSimpleMP4
	}
	num, den, ok := reduce(timescale*frames, duration, math.MaxInt32)
	if !ok {
		return info, true, errNotSimpleMP4
	}
	info.NumFrames, info.FrameRate = int(frames), float64(num)/float64(den)
	info.Duration = float64(duration) / float64(timescale)
	return info, true, nil
}

// sttsTotals sums the time-to-sample table as mov_read_stts does,
// including its fix for a stray long last entry.
func sttsTotals(stts []byte) (frames, duration int64, err error) {
	n := int(binary.BigEndian.Uint32(stts[4:]))
	if len(stts) < 8+8*n {
		return 0, 0, errNotSimpleMP4
	}
	for i := range n {
		count := int64(binary.BigEndian.Uint32(stts[8+8*i:]))
		delta := int64(binary.BigEndian.Uint32(stts[12+8*i:]))
		if delta > math.MaxInt32 {
			return 0, 0, errNotSimpleMP4 // ffmpeg treats these as negative corrections
		}
		if i+1 == n && i > 0 && count == 1 && frames > 100 && delta/10 > duration/frames {
			delta = duration / frames
		}
		duration += delta * count
		frames += count
	}
	return frames, duration, nil
}

// reduce is av_reduce for fractions that fit max exactly after dividing
// by their gcd (ok false otherwise: the caller asks ffprobe).
func reduce(num, den, max int64) (int64, int64, bool) {
	a, b := num, den
	for b != 0 {
		a, b = b, a%b
	}
	num, den = num/a, den/a
	return num, den, num <= max && den <= max
}
