package pack

import (
	"encoding/binary"
	"errors"
)

// checkThriftStruct walks one thrift compact-protocol struct (a Parquet
// footer) without decoding it and fails if any list, set, map or binary
// declares more elements or bytes than remain: parquet-go's decoder
// allocates a declared list before reading it, so a corrupt footer could
// ask for gigabytes.
func checkThriftStruct(b []byte) error {
	w := thriftWalker{b: b}
	return w.structure(0)
}

var errThrift = errors.New("malformed thrift footer")

const (
	thriftMaxDepth = 64
	tBoolTrue      = 1
	tBoolFalse     = 2
	tByte          = 3
	tI16           = 4
	tI32           = 5
	tI64           = 6
	tDouble        = 7
	tBinary        = 8
	tList          = 9
	tSet           = 10
	tMap           = 11
	tStruct        = 12
)

type thriftWalker struct {
	b   []byte
	pos int
}

func (w *thriftWalker) byte1() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, errThrift
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.pos:])
	if n <= 0 {
		return 0, errThrift
	}
	w.pos += n
	return v, nil
}

// count reads a size and checks that at least min bytes per element remain.
func (w *thriftWalker) count(n uint64, minSize int) (int, error) {
	if n > uint64(len(w.b)-w.pos)/uint64(max(minSize, 1)) {
		return 0, errThrift
	}
	return int(n), nil
}

func (w *thriftWalker) structure(depth int) error {
	if depth > thriftMaxDepth {
		return errThrift
	}
	for {
		h, err := w.byte1()
		if err != nil {
			return err
		}
		if h == 0 { // STOP
			return nil
		}
		if h>>4 == 0 { // long form: zigzag varint field id follows
			if _, err := w.uvarint(); err != nil {
				return err
			}
		}
		if err := w.value(h&0x0f, depth); err != nil {
			return err
		}
	}
}

func (w *thriftWalker) value(t byte, depth int) error {
	switch t {
	case tBoolTrue, tBoolFalse: // in a field header the type is the value
		return nil
	case tByte:
		_, err := w.byte1()
		return err
	case tI16, tI32, tI64:
		_, err := w.uvarint()
		return err
	case tDouble:
		_, err := w.count(8, 1)
		w.pos += 8
		return err
	case tBinary:
		n, err := w.uvarint()
		if err != nil {
			return err
		}
		size, err := w.count(n, 1)
		w.pos += size
		return err
	case tList, tSet:
		return w.list(depth)
	case tMap:
		return w.mapping(depth)
	case tStruct:
		return w.structure(depth + 1)
	}
	return errThrift
}

func (w *thriftWalker) list(depth int) error {
	h, err := w.byte1()
	if err != nil {
		return err
	}
	n := uint64(h >> 4)
	if n == 15 {
		if n, err = w.uvarint(); err != nil {
			return err
		}
	}
	elem := h & 0x0f
	size, err := w.count(n, 1)
	if err != nil {
		return err
	}
	for i := 0; i < size; i++ {
		if elem == tBoolTrue || elem == tBoolFalse { // list bools take a byte
			if _, err := w.byte1(); err != nil {
				return err
			}
			continue
		}
		if err := w.value(elem, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (w *thriftWalker) mapping(depth int) error {
	n, err := w.uvarint()
	if err != nil || n == 0 {
		return err
	}
	size, err := w.count(n, 2)
	if err != nil {
		return err
	}
	kv, err := w.byte1()
	if err != nil {
		return err
	}
	for i := 0; i < size; i++ {
		if err := w.value(kv>>4, depth+1); err != nil {
			return err
		}
		if err := w.value(kv&0x0f, depth+1); err != nil {
			return err
		}
	}
	return nil
}
