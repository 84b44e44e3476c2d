package clipwriter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/google/uuid"
)

// The files of a ClipWriterStage tree are Python json.dumps output whose key
// order carries meaning (captions of a window are listed in key order), so
// they are decoded into ordered values: nil, bool, string, json.Number,
// jsonObject and []any.

type jsonField struct {
	key   string
	value any
}

type jsonObject []jsonField

// maxJSONDepth bounds nesting: a metas file is four levels deep.
const maxJSONDepth = 32

// DecodeJSON decodes one JSON value that fills b. Duplicate keys are an
// error (Python keeps the last; a writer never emits two).
func DecodeJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("empty file")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeJSONValue(dec, 0)
	if err != nil {
		return nil, jsonSyntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("not valid JSON: data after the top-level value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func jsonSyntax(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("not valid JSON: truncated")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not valid JSON: %v (offset %d)", se, se.Offset)
	}
	return fmt.Errorf("not valid JSON: %w", err)
}

func decodeJSONValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("nested too deeply")
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return t, nil
	}
	if d == '[' {
		list := []any{}
		for dec.More() {
			v, err := decodeJSONValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	}
	obj := jsonObject{}
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		v, err := decodeJSONValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		obj = append(obj, jsonField{key, v})
	}
	_, err = dec.Token()
	return obj, err
}

// describe names a decoded value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return "the string " + strconv.Quote(x)
	case json.Number:
		return "the number " + x.String()
	case jsonObject:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

var jsonInteger = regexp.MustCompile(`^-?[0-9]+$`)

func asInt(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok || !jsonInteger.MatchString(string(n)) {
		return 0, fmt.Errorf("want an integer, got %s", describe(v))
	}
	i, err := strconv.Atoi(string(n))
	if err != nil {
		return 0, fmt.Errorf("integer %s out of range", n)
	}
	return i, nil
}

// asFloat accepts any JSON number (Python writes 10.0, but an int is a
// number too).
func asFloat(v any) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("want a number, got %s", describe(v))
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return 0, fmt.Errorf("number %s out of range", n)
	}
	return f, nil
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %s", describe(v))
	}
	return s, nil
}

func asBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("want true or false, got %s", describe(v))
	}
	return b, nil
}

func asList(v any) ([]any, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list, got %s", describe(v))
	}
	return l, nil
}

// ParseUUID accepts only the canonical form NeMo writes (str(uuid)):
// lowercase, hyphenated.
func ParseUUID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || id.String() != s {
		return uuid.Nil, fmt.Errorf("%q is not a uuid as str(uuid) writes it", s)
	}
	return id, nil
}

// fields reads the keys of one object, remembering the first error and the
// keys used, so that a parser reads like the format's key list.
type fields struct {
	obj  jsonObject
	used map[string]bool
	err  error
}

func objectFields(v any, what string) (*fields, error) {
	obj, ok := v.(jsonObject)
	if !ok {
		return nil, fmt.Errorf("%s: want an object, got %s", what, describe(v))
	}
	return &fields{obj: obj, used: map[string]bool{}}, nil
}

// lookup returns key's value; a missing key is an error when required.
func (f *fields) lookup(key string, required bool) (any, bool) {
	f.used[key] = true
	for _, fl := range f.obj {
		if fl.key == key {
			return fl.value, true
		}
	}
	if required && f.err == nil {
		f.err = fmt.Errorf("missing key %q", key)
	}
	return nil, false
}

func (f *fields) has(key string) bool {
	for _, fl := range f.obj {
		if fl.key == key {
			return true
		}
	}
	return false
}

func (f *fields) fail(key string, err error) {
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("%q: %w", key, err)
	}
}

func (f *fields) int(key string) int {
	v, ok := f.lookup(key, true)
	if !ok {
		return 0
	}
	n, err := asInt(v)
	f.fail(key, err)
	return n
}

func (f *fields) float(key string) float64 {
	v, ok := f.lookup(key, true)
	if !ok {
		return 0
	}
	x, err := asFloat(v)
	f.fail(key, err)
	return x
}

func (f *fields) str(key string) string {
	v, ok := f.lookup(key, true)
	if !ok {
		return ""
	}
	s, err := asString(v)
	f.fail(key, err)
	return s
}

// value returns key's raw value (required).
func (f *fields) value(key string) any {
	v, _ := f.lookup(key, true)
	return v
}

// done reports the first error, or a key no parser asked for: the tree
// would not be served as it was written.
func (f *fields) done() error {
	if f.err != nil {
		return f.err
	}
	for _, fl := range f.obj {
		if !f.used[fl.key] {
			return fmt.Errorf("unexpected key %q", fl.key)
		}
	}
	return nil
}
