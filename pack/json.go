package pack

import (
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Field is one key/value pair of an Object.
type Field struct {
	Key   string
	Value any
}

// Object is a JSON object whose keys keep the order they are given in, as a
// Python dict does. Duplicate keys are written as given.
type Object []Field

// JSON returns v encoded exactly as Python's json.dumps(v, indent=4) encodes
// the equivalent Python value: ensure_ascii=True, float repr, ", " free
// separators, "[]" and "{}" for empty containers, no trailing newline.
//
// Supported values: nil, bool, all Go integer kinds, float64, float32 (as
// the float64 it widens to), string (invalid UTF-8 bytes become U+FFFD),
// Object, and slices or arrays of supported values ([]any, []string, []int,
// []float64, []Object, ...). Named types are handled by their kind. Maps are
// not supported because their order is not defined. JSON panics on an
// unsupported value: that is a programming error.
func JSON(v any) []byte {
	return AppendJSON(nil, v)
}

// AppendJSON appends JSON(v) to dst and returns the extended slice.
func AppendJSON(dst []byte, v any) []byte {
	return appendValue(dst, v, 0)
}

const indentUnit = "    "

func appendValue(dst []byte, v any, depth int) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		if x {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case float64:
		return appendFloat(dst, x)
	case float32:
		return appendFloat(dst, float64(x))
	case string:
		return appendString(dst, x)
	case Object:
		return appendObject(dst, x, depth)
	case []any:
		return appendList(dst, len(x), depth, func(d []byte, i int) []byte { return appendValue(d, x[i], depth+1) })
	case []string:
		return appendList(dst, len(x), depth, func(d []byte, i int) []byte { return appendString(d, x[i]) })
	case []int:
		return appendList(dst, len(x), depth, func(d []byte, i int) []byte { return strconv.AppendInt(d, int64(x[i]), 10) })
	case []float64:
		return appendList(dst, len(x), depth, func(d []byte, i int) []byte { return appendFloat(d, x[i]) })
	case []Object:
		return appendList(dst, len(x), depth, func(d []byte, i int) []byte { return appendObject(d, x[i], depth+1) })
	}
	return appendReflect(dst, reflect.ValueOf(v), depth)
}

// appendReflect handles the kinds not matched by appendValue's fast paths:
// other integer widths, named types and slices of other element types.
func appendReflect(dst []byte, rv reflect.Value, depth int) []byte {
	switch rv.Kind() {
	case reflect.Bool:
		return appendValue(dst, rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return appendFloat(dst, rv.Float())
	case reflect.String:
		return appendString(dst, rv.String())
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			break // bytes have no JSON form in Python either
		}
		if rv.Type().ConvertibleTo(reflect.TypeOf(Object(nil))) {
			return appendObject(dst, rv.Convert(reflect.TypeOf(Object(nil))).Interface().(Object), depth)
		}
		return appendList(dst, rv.Len(), depth, func(d []byte, i int) []byte {
			return appendValue(d, rv.Index(i).Interface(), depth+1)
		})
	}
	panic(fmt.Sprintf("pack: JSON: unsupported value of type %s", rv.Type()))
}

// appendList writes a Python indent=4 list of n items, item(i) writing each.
func appendList(dst []byte, n, depth int, item func([]byte, int) []byte) []byte {
	if n == 0 {
		return append(dst, "[]"...)
	}
	dst = append(dst, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendNewline(dst, depth+1)
		dst = item(dst, i)
	}
	dst = appendNewline(dst, depth)
	return append(dst, ']')
}

func appendObject(dst []byte, obj Object, depth int) []byte {
	if len(obj) == 0 {
		return append(dst, "{}"...)
	}
	dst = append(dst, '{')
	for i, f := range obj {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendNewline(dst, depth+1)
		dst = appendString(dst, f.Key)
		dst = append(dst, ": "...)
		dst = appendValue(dst, f.Value, depth+1)
	}
	dst = appendNewline(dst, depth)
	return append(dst, '}')
}

func appendNewline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for i := 0; i < depth; i++ {
		dst = append(dst, indentUnit...)
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString writes s as Python's json encoder does with ensure_ascii:
// printable ASCII as is, the usual short escapes, everything else as
// lowercase \uXXXX (UTF-16 surrogate pairs above U+FFFF).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			start := i
			for i < len(s) && s[i] >= 0x20 && s[i] <= 0x7e && s[i] != '"' && s[i] != '\\' {
				i++
			}
			dst = append(dst, s[start:i]...)
			continue
		}
		if c < utf8.RuneSelf {
			dst = appendASCIIEscape(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:]) // invalid bytes give U+FFFD
		i += size
		if r > 0xffff {
			r -= 0x10000
			dst = appendU4(dst, 0xd800+(r>>10))
			dst = appendU4(dst, 0xdc00+(r&0x3ff))
			continue
		}
		dst = appendU4(dst, r)
	}
	return append(dst, '"')
}

func appendASCIIEscape(dst []byte, c byte) []byte {
	switch c {
	case '"':
		return append(dst, `\"`...)
	case '\\':
		return append(dst, `\\`...)
	case '\n':
		return append(dst, `\n`...)
	case '\r':
		return append(dst, `\r`...)
	case '\t':
		return append(dst, `\t`...)
	case '\b':
		return append(dst, `\b`...)
	case '\f':
		return append(dst, `\f`...)
	}
	return appendU4(dst, rune(c))
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
