package pack

import "errors"

// Opcodes only the decoder needs (see pickle.go for the others).
const (
	opEmptyList      = ']'
	opEmptyDict      = '}'
	opAppend         = 'a'
	opAppends        = 'e'
	opSetItem        = 's'
	opSetItems       = 'u'
	opBinUnicode     = 'X'
	opBinUnicode8    = 0x8d
	opShortBinString = 'U'
	opBinString      = 'T'
	opByteArray8     = 0x96
	opGlobal         = 'c'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opLongBinGet     = 'j'
	opPop            = '0'
	opDup            = '2'
	opPopMark        = '1'
	opNextBuffer     = 0x97
	opReadOnlyBuffer = 0x98
	opBinFloat       = 'G'
)

var errBadArgs = errors.New("unexpected arguments")

// lengthWidth returns the width of the length prefix of a string or bytes
// opcode.
func lengthWidth(op byte) int {
	switch op {
	case opShortUnicode, opShortBinString, opShortBinBytes:
		return 1
	case opBinUnicode, opBinString, opBinBytes:
		return 4
	}
	return 8 // BINUNICODE8, BINBYTES8, BYTEARRAY8
}

func (u *unpickler) stepTuple(op byte) error {
	var items []any
	if op == opTuple {
		var ok bool
		if items, ok = u.popMark(); !ok {
			return u.fail(op, "no MARK before TUPLE")
		}
	} else {
		n := int(op-opTuple1) + 1
		items = make([]any, n)
		for i := n - 1; i >= 0; i-- {
			v, ok := u.pop()
			if !ok {
				return u.fail(op, "stack underflow")
			}
			items[i] = v
		}
	}
	u.push(pyTuple(items))
	return nil
}

func (u *unpickler) stepMemo(op byte) error {
	var key uint64
	switch op {
	case opMemoize:
		key = uint64(len(u.memo))
	case opBinPut, opBinGet:
		b, ok := u.take(1)
		if !ok {
			return u.fail(op, "truncated memo index")
		}
		key = uint64(b[0])
	case opLongBinPut, opLongBinGet:
		b, ok := u.take(4)
		if !ok {
			return u.fail(op, "truncated memo index")
		}
		key = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	}
	if op == opBinGet || op == opLongBinGet {
		v, ok := u.memo[key]
		if !ok {
			return u.fail(op, "memo index %d not set", key)
		}
		u.push(v)
		return nil
	}
	if len(u.stack) == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack)) {
		return u.fail(op, "nothing to memoise")
	}
	u.memo[key] = u.stack[len(u.stack)-1]
	return nil
}

// stepCall records REDUCE as a pyCall and BUILD as its state. The calls
// evaluated are those protocol 2 uses for bytes: _codecs.encode(str,
// 'latin1') and bytes().
func (u *unpickler) stepCall(op byte) error {
	arg, ok1 := u.pop()
	target, ok2 := u.pop()
	if !ok1 || !ok2 {
		return u.fail(op, "stack underflow")
	}
	if op == opBuild {
		call, ok := target.(*pyCall)
		if !ok || call.hasState {
			return u.fail(op, "BUILD target is not a fresh reduced object")
		}
		call.state, call.hasState = arg, true
		u.push(call)
		return nil
	}
	fn, ok1 := target.(pyGlobal)
	args, ok2 := arg.(pyTuple)
	if !ok1 || !ok2 {
		return u.fail(op, "REDUCE needs a global and an argument tuple")
	}
	if (fn == pyGlobal{"__builtin__", "bytes"} || fn == pyGlobal{"builtins", "bytes"}) && len(args) == 0 {
		u.push(pyBytes{}) // protocol 2 spelling of b''
		return nil
	}
	if fn == (pyGlobal{"_codecs", "encode"}) {
		b, err := latin1Encode(args)
		if err != nil {
			return u.fail(op, "_codecs.encode: %v", err)
		}
		u.push(b)
		return nil
	}
	u.push(&pyCall{fn: fn, args: args})
	return nil
}

func (u *unpickler) stepContainer(op byte) error {
	var items []any
	var ok bool
	if op == opAppends || op == opSetItems {
		items, ok = u.popMark()
	} else {
		n := 1
		if op == opSetItem {
			n = 2
		}
		items, ok = make([]any, n), true
		for i := n - 1; i >= 0 && ok; i-- {
			items[i], ok = u.pop()
		}
	}
	if !ok {
		return u.fail(op, "stack underflow")
	}
	top, ok := u.pop()
	if !ok {
		return u.fail(op, "stack underflow")
	}
	switch c := top.(type) {
	case *pyList:
		if op != opAppend && op != opAppends {
			return u.fail(op, "SETITEM on a list")
		}
		c.items = append(c.items, items...)
	case *pyDict:
		if op != opSetItem && op != opSetItems || len(items)%2 != 0 {
			return u.fail(op, "bad dict update")
		}
		c.items = append(c.items, items...)
	default:
		return u.fail(op, "target is not a list or dict")
	}
	u.push(top)
	return nil
}

func (u *unpickler) stepStack(op byte) error {
	switch op {
	case opPopMark:
		if _, ok := u.popMark(); !ok {
			return u.fail(op, "no MARK")
		}
	case opPop:
		if _, ok := u.pop(); !ok {
			// POP of a bare MARK removes the mark, as CPython does.
			if len(u.marks) == 0 || u.marks[len(u.marks)-1] != len(u.stack) {
				return u.fail(op, "stack underflow")
			}
			u.marks = u.marks[:len(u.marks)-1]
		}
	case opDup:
		v, ok := u.pop()
		if !ok {
			return u.fail(op, "stack underflow")
		}
		u.push(v)
		u.push(v)
	}
	return nil
}

// latin1Encode evaluates _codecs.encode(s, 'latin1'): every rune of s must be
// below U+0100 and becomes one byte.
func latin1Encode(args pyTuple) (pyBytes, error) {
	if len(args) != 2 {
		return nil, errBadArgs
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1") {
		return nil, errBadArgs
	}
	out := make(pyBytes, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, errBadArgs
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// pyTypeName names a decoded value as Python would, for error messages.
func pyTypeName(v any) string {
	switch x := v.(type) {
	case pyNone:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return x.module + "." + x.name
	case *pyCall:
		return x.fn.module + "." + x.fn.name + "(...)"
	}
	return "unknown object"
}
