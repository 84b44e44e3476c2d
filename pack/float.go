package pack

import (
	"math"
	"strconv"
	"strings"
)

// FormatFloat formats f as Python's repr(float) does (and so as json.dumps
// writes a float): the shortest digits that round-trip, in fixed notation
// with at least one fractional digit ("10.0", "0.5") when the decimal
// exponent is in [-4, 16), otherwise in exponent notation with a signed,
// at least two-digit exponent ("1e-06", "1.5e+16"). NaN and the infinities
// are spelled as json.dumps spells them: "NaN", "Infinity", "-Infinity".
func FormatFloat(f float64) string {
	return string(appendFloat(nil, f))
}

// appendFloat appends FormatFloat(f) to dst.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	// Shortest round-trip digits in exponent form: [-]d[.ddd]e±XX.
	var buf [32]byte
	sci := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	s := string(sci)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	mant, expText, _ := strings.Cut(s, "e")
	exp, err := strconv.Atoi(expText)
	if err != nil {
		panic("pack: unexpected strconv output " + string(sci))
	}
	if exp < -4 || exp >= 16 {
		// Go's 'e' format already matches Python: no trailing zeros,
		// no lone '.', sign and at least two exponent digits.
		return append(dst, sci...)
	}
	digits := strings.Replace(mant, ".", "", 1)
	if neg {
		dst = append(dst, '-')
	}
	return appendFixed(dst, digits, exp)
}

// appendFixed writes the decimal digits d1d2...dn scaled so that d1 sits at
// 10^exp, in plain notation with at least one digit after the point.
func appendFixed(dst []byte, digits string, exp int) []byte {
	point := exp + 1 // number of digits before the decimal point
	switch {
	case point <= 0:
		dst = append(dst, "0."...)
		for i := 0; i < -point; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	case point >= len(digits):
		dst = append(dst, digits...)
		for i := len(digits); i < point; i++ {
			dst = append(dst, '0')
		}
		return append(dst, ".0"...)
	default:
		dst = append(dst, digits[:point]...)
		dst = append(dst, '.')
		return append(dst, digits[point:]...)
	}
}
