package media

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// frameTimes is when each frame of a video is presented, as PySceneDetect
// sees it through OpenCV: us[n] is round(CAP_PROP_POS_MSEC · 1000) after
// reading frame n, and fps the rate PySceneDetect derives from
// CAP_PROP_FPS (framerateToFraction).
type frameTimes struct {
	us       []int64
	num, den int64 // fps as a fraction
}

func (f frameTimes) fps() float64 { return float64(f.num) / float64(f.den) }

// probeFrameTimes reads the presentation times of the frames of src's
// first video stream without decoding it: the stream's time base, start
// time and rates, and every packet's pts (frames come out of the decoder in
// pts order, one per packet; packets the demuxer marks to discard give
// none). OpenCV reports a frame's time as (pts - start_time) · time_base in
// milliseconds; a frame with none, or with a time not after the start, gets
// PySceneDetect's fallback of its index over the rate.
func (t Tools) probeFrameTimes(ctx context.Context, src Source) (frameTimes, error) {
	args := []string{"-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=time_base,start_pts,r_frame_rate,avg_frame_rate:packet=pts,flags", "-of", "json"}
	if src.URL == "" {
		args = append(args, mediaURL(src.Name))
	} else {
		args = append(append(args, src.remoteOptions()...), src.URL)
	}
	var stdout bytes.Buffer
	stderr := &stderrCapture{}
	cmd := exec.CommandContext(ctx, t.FFprobe, args...)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		return frameTimes{}, toolFailure(src.Name, "frame times", stderr, err, src.hidden()...)
	}
	var report struct {
		Streams []struct {
			TimeBase     string `json:"time_base"`
			StartPTS     *int64 `json:"start_pts"`
			RFrameRate   string `json:"r_frame_rate"`
			AvgFrameRate string `json:"avg_frame_rate"`
		} `json:"streams"`
		Packets []struct {
			PTS   *int64 `json:"pts"`
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil || len(report.Streams) == 0 {
		return frameTimes{}, fmt.Errorf("%s: frame times: unexpected ffprobe output", src.Name)
	}
	st := report.Streams[0]
	num, den, err := framerateToFraction(capFPS(parseFrameRate(st.RFrameRate), parseFrameRate(st.AvgFrameRate)))
	if err != nil {
		return frameTimes{}, fmt.Errorf("%s: %w", src.Name, err)
	}
	tbNum, tbDen, ok := parseRatio(st.TimeBase)
	if !ok {
		return frameTimes{}, fmt.Errorf("%s: frame times: time base %q", src.Name, st.TimeBase)
	}
	var start int64
	if st.StartPTS != nil {
		start = *st.StartPTS
	}
	var pts []int64
	missing := false
	for _, p := range report.Packets {
		if strings.Contains(p.Flags, "D") {
			continue
		}
		if p.PTS == nil {
			missing = true
			continue
		}
		pts = append(pts, *p.PTS)
	}
	slices.Sort(pts)
	ft := frameTimes{num: num, den: den, us: make([]int64, len(pts))}
	tb := float64(tbNum) / float64(tbDen)
	for n, p := range pts {
		ms := float64(p-start) * tb * 1000
		us := int64(math.RoundToEven(ms * 1000))
		if missing || us <= 0 {
			us = fallbackUS(n, num, den)
		}
		ft.us[n] = us
	}
	return ft, nil
}

// fallbackUS is PySceneDetect's time of frame n when OpenCV reports none
// (0 or less): pts n·den in a time base of 1/num, brought to microseconds
// with Python's round of the exact fraction.
func fallbackUS(n int, num, den int64) int64 {
	r := new(big.Rat).SetFrac(big.NewInt(int64(n)*den*1_000_000), big.NewInt(num))
	return roundRat(r)
}

// roundRat is Python's round of a Fraction: to the nearest integer, half
// to even.
func roundRat(r *big.Rat) int64 {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	twice := new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2))
	switch c := twice.Cmp(r.Denom()); {
	case c > 0 || c == 0 && q.Bit(0) == 1:
		if r.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}

// constantTimes is the times of frames of a constant-rate video at fps,
// for when the packets cannot be read: frame n at n/fps.
func constantTimes(frames int, fps float64) (frameTimes, error) {
	num, den, err := framerateToFraction(fps)
	if err != nil {
		return frameTimes{}, err
	}
	ft := frameTimes{num: num, den: den, us: make([]int64, frames)}
	for n := range ft.us {
		ft.us[n] = fallbackUS(n, num, den)
	}
	return ft, nil
}

// capFPS is OpenCV 4's CAP_PROP_FPS for the FFmpeg backend: the stream's
// avg_frame_rate, r_frame_rate when that is unknown. (On a variable-rate
// video the two differ: a video with frames at 24 and 30 fps has an
// r_frame_rate of 120.)
func capFPS(r, avg float64) float64 {
	if avg > 0 {
		return avg
	}
	return r
}

// framerateToFraction is PySceneDetect's framerate_to_fraction: a whole
// rate as N/1, one within 1e-3 of N·1000/1001 as that fraction, any other
// as Python's Fraction(fps).limit_denominator(10000).
func framerateToFraction(fps float64) (num, den int64, err error) {
	if !(fps > 1e-9) || math.IsInf(fps, 0) {
		return 0, 0, fmt.Errorf("no usable frame rate (%v)", fps)
	}
	if fps == math.Trunc(fps) {
		return int64(fps), 1, nil
	}
	if base := math.RoundToEven(fps * 1001 / 1000); base > 0 && math.Abs(base*1000/1001-fps) < 1e-3 {
		return int64(base) * 1000, 1001, nil
	}
	r := limitDenominator(new(big.Rat).SetFloat64(fps), 10000)
	return r.Num().Int64(), r.Denom().Int64(), nil
}

// limitDenominator is CPython's Fraction.limit_denominator: the closest
// fraction to x with a denominator at most maxDen.
func limitDenominator(x *big.Rat, maxDen int64) *big.Rat {
	if x.Denom().IsInt64() && x.Denom().Int64() <= maxDen {
		return x
	}
	p0, q0, p1, q1 := big.NewInt(0), big.NewInt(1), big.NewInt(1), big.NewInt(0)
	n, d := new(big.Int).Set(x.Num()), new(big.Int).Set(x.Denom())
	bound := big.NewInt(maxDen)
	for {
		a := new(big.Int).Div(n, d)
		q2 := new(big.Int).Add(q0, new(big.Int).Mul(a, q1))
		if q2.Cmp(bound) > 0 {
			break
		}
		p0, q0, p1, q1 = p1, q1, new(big.Int).Add(p0, new(big.Int).Mul(a, p1)), q2
		n, d = d, new(big.Int).Sub(n, new(big.Int).Mul(a, d))
	}
	k := new(big.Int).Div(new(big.Int).Sub(bound, q0), q1)
	b1 := new(big.Rat).SetFrac(new(big.Int).Add(p0, new(big.Int).Mul(k, p1)), new(big.Int).Add(q0, new(big.Int).Mul(k, q1)))
	b2 := new(big.Rat).SetFrac(p1, q1)
	d1 := new(big.Rat).Abs(new(big.Rat).Sub(b2, x))
	d2 := new(big.Rat).Abs(new(big.Rat).Sub(b1, x))
	if d1.Cmp(d2) <= 0 {
		return b2
	}
	return b1
}

// parseRatio reads "num/den" with both positive.
func parseRatio(s string) (num, den int64, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		return 0, 0, false
	}
	n, err1 := strconv.ParseInt(a, 10, 64)
	d, err2 := strconv.ParseInt(b, 10, 64)
	return n, d, err1 == nil && err2 == nil && n > 0 && d > 0
}
