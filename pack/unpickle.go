package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// ErrBadPickle is wrapped by every error Unpickle returns.
var ErrBadPickle = errors.New("not a supported numpy array pickle")

// Values on the unpickler's stack. Strings are Go strings, integers int64,
// booleans bool; the types below model the rest. Nothing is ever executed:
// REDUCE and BUILD only record what they would call.
type (
	pyNone   struct{}
	pyGlobal struct{ module, name string }
	pyTuple  []any
	pyBytes  []byte
	pyList   struct{ items []any }
	pyDict   struct{ items []any } // key, value, key, value...
	pyCall   struct {
		fn       pyGlobal
		args     pyTuple
		state    any
		hasState bool
	}
)

// unpickler is a minimal pickle machine for protocols 2 to 5: it handles
// the opcodes CPython emits for ndarrays, dtypes and small containers.
type unpickler struct {
	in    []byte
	pos   int
	opPos int // offset of the opcode being executed
	stack []any
	marks []int // stack heights at each MARK
	memo  map[uint64]any
}

func (u *unpickler) fail(op byte, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return fmt.Errorf("pack: unpickle: opcode 0x%02x at offset %d: %s: %w", op, u.opPos, msg, ErrBadPickle)
}

// take returns the next n input bytes without copying.
func (u *unpickler) take(n uint64) ([]byte, bool) {
	if n > uint64(len(u.in)-u.pos) {
		return nil, false
	}
	b := u.in[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, true
}

// takeLen reads a little-endian length of width bytes, then that many bytes.
func (u *unpickler) takeLen(width int) ([]byte, bool) {
	lb, ok := u.take(uint64(width))
	if !ok {
		return nil, false
	}
	var n uint64
	for i := width - 1; i >= 0; i-- {
		n = n<<8 | uint64(lb[i])
	}
	return u.take(n)
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, bool) {
	floor := 0
	if len(u.marks) > 0 {
		floor = u.marks[len(u.marks)-1]
	}
	if len(u.stack) <= floor {
		return nil, false
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, true
}

// popMark pops everything above the last MARK, and the mark.
func (u *unpickler) popMark() ([]any, bool) {
	if len(u.marks) == 0 {
		return nil, false
	}
	at := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[at:]...)
	u.stack = u.stack[:at]
	return items, true
}

// run executes the pickle and returns the value STOP leaves on the stack.
func (u *unpickler) run() (any, error) {
	u.memo = make(map[uint64]any)
	for u.pos < len(u.in) {
		op := u.in[u.pos]
		u.opPos = u.pos
		u.pos++
		if op == opStop {
			if len(u.marks) != 0 || len(u.stack) != 1 {
				return nil, u.fail(op, "stack not empty at STOP")
			}
			return u.stack[0], nil
		}
		if err := u.step(op); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("pack: unpickle: no STOP opcode before end of input (truncated?): %w", ErrBadPickle)
}

// step executes one opcode.
func (u *unpickler) step(op byte) error {
	switch op {
	case opProto:
		b, ok := u.take(1)
		if !ok || b[0] < 2 || b[0] > 5 {
			return u.fail(op, "protocol not in 2..5")
		}
	case opFrame:
		if _, ok := u.take(8); !ok {
			return u.fail(op, "truncated frame header")
		}
	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opNone:
		u.push(pyNone{})
	case opNewTrue, opNewFalse:
		u.push(op == opNewTrue)
	case opEmptyTuple:
		u.push(pyTuple{})
	case opEmptyList:
		u.push(&pyList{})
	case opEmptyDict:
		u.push(&pyDict{})
	case opBinInt1, opBinInt2, opBinInt, opLong1:
		return u.stepInt(op)
	case opBinFloat:
		b, ok := u.take(8)
		if !ok {
			return u.fail(op, "truncated float")
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opShortUnicode, opBinUnicode, opBinUnicode8, opShortBinString, opBinString:
		return u.stepString(op)
	case opShortBinBytes, opBinBytes, opBinBytes8, opByteArray8:
		return u.stepBytes(op)
	case opGlobal, opStackGlobal:
		return u.stepGlobal(op)
	case opTuple, opTuple1, opTuple2, opTuple3:
		return u.stepTuple(op)
	case opMemoize, opBinPut, opLongBinPut, opBinGet, opLongBinGet:
		return u.stepMemo(op)
	case opReduce, opBuild:
		return u.stepCall(op)
	case opAppend, opAppends, opSetItem, opSetItems:
		return u.stepContainer(op)
	case opPop, opDup, opPopMark:
		return u.stepStack(op)
	case opNextBuffer, opReadOnlyBuffer:
		return u.fail(op, "out-of-band buffers are not supported")
	default:
		return u.fail(op, "unsupported opcode")
	}
	return nil
}

func (u *unpickler) stepInt(op byte) error {
	var b []byte
	var ok bool
	switch op {
	case opBinInt1:
		b, ok = u.take(1)
	case opBinInt2:
		b, ok = u.take(2)
	case opBinInt:
		b, ok = u.take(4)
	case opLong1:
		b, ok = u.takeLen(1)
		if ok && len(b) > 8 {
			return u.fail(op, "integer wider than 64 bits")
		}
	}
	if !ok {
		return u.fail(op, "truncated integer")
	}
	switch op {
	case opBinInt:
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opLong1: // little-endian two's complement
		var n int64
		for i := len(b) - 1; i >= 0; i-- {
			n = n<<8 | int64(b[i])
		}
		if len(b) > 0 && len(b) < 8 && b[len(b)-1]&0x80 != 0 {
			n -= 1 << (8 * len(b))
		}
		u.push(n)
	default:
		var n int64
		for i := len(b) - 1; i >= 0; i-- {
			n = n<<8 | int64(b[i])
		}
		u.push(n)
	}
	return nil
}

func (u *unpickler) stepString(op byte) error {
	b, ok := u.takeLen(lengthWidth(op))
	if !ok {
		return u.fail(op, "truncated string")
	}
	if op == opShortBinString || op == opBinString {
		u.push(pyBytes(b)) // a Python 2 str: bytes
		return nil
	}
	if !utf8.Valid(b) {
		return u.fail(op, "string is not UTF-8")
	}
	u.push(string(b))
	return nil
}

func (u *unpickler) stepBytes(op byte) error {
	b, ok := u.takeLen(lengthWidth(op))
	if !ok {
		return u.fail(op, "truncated bytes")
	}
	u.push(pyBytes(b)) // aliases the input; copied when the array is built
	return nil
}

func (u *unpickler) stepGlobal(op byte) error {
	if op == opGlobal { // "module\nname\n"
		mod, ok1 := u.line()
		name, ok2 := u.line()
		if !ok1 || !ok2 {
			return u.fail(op, "truncated global name")
		}
		u.push(pyGlobal{mod, name})
		return nil
	}
	name, ok1 := u.pop()
	mod, ok2 := u.pop()
	ns, ok3 := name.(string)
	ms, ok4 := mod.(string)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return u.fail(op, "module and name are not two strings")
	}
	u.push(pyGlobal{ms, ns})
	return nil
}

func (u *unpickler) line() (string, bool) {
	i := bytes.IndexByte(u.in[u.pos:], '\n')
	if i < 0 {
		return "", false
	}
	s := string(u.in[u.pos : u.pos+i])
	u.pos += i + 1
	return s, utf8.ValidString(s)
}
