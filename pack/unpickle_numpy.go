package pack

import (
	"fmt"
)

// Unpickle parses a pickled numpy ndarray of dtype float32 or float16 as
// written by pickle.dump under numpy 1.x or 2.x with protocols 2 to 5:
//
//   - numpy.core.multiarray._reconstruct (numpy._core under numpy 2) with a
//     BUILD state (1, shape, dtype, is_fortran, data), data being bytes or,
//     in protocol 2, _codecs.encode(str, 'latin1');
//   - protocol 5's numpy.core.numeric._frombuffer(bytearray, dtype, shape,
//     order) with the buffer in band.
//
// Fortran-ordered and big-endian arrays are converted to the C-ordered,
// little-endian Array. Nothing in the pickle is executed. Any other content
// gives an error wrapping ErrBadPickle.
func Unpickle(b []byte) (Array, error) {
	u := &unpickler{in: b}
	obj, err := u.run()
	if err != nil {
		return Array{}, err
	}
	if u.pos != len(b) {
		return Array{}, badArray("%d trailing bytes after STOP", len(b)-u.pos)
	}
	call, ok := obj.(*pyCall)
	if !ok {
		return Array{}, badArray("pickled object is a %s, not an ndarray", pyTypeName(obj))
	}
	switch {
	case isNumpyGlobal(call.fn, "multiarray", "_reconstruct"):
		return fromReconstruct(call)
	case isNumpyGlobal(call.fn, "numeric", "_frombuffer"):
		return fromFrombuffer(call)
	}
	return Array{}, badArray("pickled object is a %s.%s, not an ndarray", call.fn.module, call.fn.name)
}

func badArray(format string, args ...any) error {
	return fmt.Errorf("pack: unpickle: %s: %w", fmt.Sprintf(format, args...), ErrBadPickle)
}

// isNumpyGlobal matches numpy.core.<mod>.<name> (numpy 1.x) and
// numpy._core.<mod>.<name> (numpy 2.x).
func isNumpyGlobal(g pyGlobal, mod, name string) bool {
	return g.name == name && (g.module == "numpy.core."+mod || g.module == "numpy._core."+mod)
}

// fromReconstruct decodes _reconstruct(ndarray, (0,), b'b') + BUILD state.
func fromReconstruct(call *pyCall) (Array, error) {
	if len(call.args) != 3 || call.args[0] != (pyGlobal{"numpy", "ndarray"}) {
		return Array{}, badArray("_reconstruct does not build a numpy.ndarray")
	}
	state, ok := call.state.(pyTuple)
	if !call.hasState || !ok {
		return Array{}, badArray("ndarray has no state tuple")
	}
	if len(state) == 5 { // version 1 state; older numpy omits the version
		if v, ok := state[0].(int64); !ok || v != 1 {
			return Array{}, badArray("unsupported ndarray state version %v", state[0])
		}
		state = state[1:]
	}
	if len(state) != 4 {
		return Array{}, badArray("ndarray state has %d items, want 4 or 5", len(state))
	}
	fortran, ok1 := state[2].(bool)
	data, ok2 := state[3].(pyBytes)
	if !ok1 || !ok2 {
		return Array{}, badArray("ndarray state holds no raw data (object array?)")
	}
	return buildArray(state[1], state[0], fortran, data)
}

// fromFrombuffer decodes protocol 5's _frombuffer(buf, dtype, shape, order).
func fromFrombuffer(call *pyCall) (Array, error) {
	if len(call.args) != 4 || call.hasState {
		return Array{}, badArray("_frombuffer with unexpected arguments")
	}
	data, ok1 := call.args[0].(pyBytes)
	order, ok2 := call.args[3].(string)
	if !ok1 || !ok2 || (order != "C" && order != "F") {
		return Array{}, badArray("_frombuffer with unexpected buffer or order")
	}
	return buildArray(call.args[1], call.args[2], order == "F", data)
}

// buildArray checks dtype, shape and data length and returns a C-ordered,
// little-endian copy of data.
func buildArray(dtypeObj, shapeObj any, fortran bool, data pyBytes) (Array, error) {
	dt, bigEndian, err := parseDType(dtypeObj)
	if err != nil {
		return Array{}, err
	}
	shapeTuple, ok := shapeObj.(pyTuple)
	if !ok {
		return Array{}, badArray("shape is not a tuple")
	}
	shape := make([]int, len(shapeTuple))
	for i, d := range shapeTuple {
		n, ok := d.(int64)
		if !ok || n < 0 || n > 1<<48 {
			return Array{}, badArray("shape %v has a bad dimension", shapeTuple)
		}
		shape[i] = int(n)
	}
	a := Array{DType: dt, Shape: shape, Data: append([]byte(nil), data...)}
	if err := a.Validate(); err != nil {
		return Array{}, fmt.Errorf("pack: unpickle: %w: %w", err, ErrBadPickle)
	}
	if bigEndian {
		swapBytes(a.Data, dt.Size())
	}
	if fortran {
		a.Data = fortranToC(a.Data, shape, dt.Size())
	}
	return a, nil
}

// parseDType decodes dtype(kind, align, copy) + BUILD (version, byteorder, ...).
func parseDType(obj any) (DType, bool, error) {
	call, ok := obj.(*pyCall)
	if !ok || call.fn != (pyGlobal{"numpy", "dtype"}) || len(call.args) == 0 {
		return 0, false, badArray("array dtype is not a numpy.dtype")
	}
	var dt DType
	switch call.args[0] {
	case "f4":
		dt = Float32
	case "f2":
		dt = Float16
	default:
		return 0, false, badArray("unsupported dtype %v (want f4 or f2)", call.args[0])
	}
	order := "<"
	if state, ok := call.state.(pyTuple); ok && len(state) >= 2 {
		if s, ok := state[1].(string); ok {
			order = s
		}
	}
	switch order {
	case "<", "=":
		return dt, false, nil
	case ">":
		return dt, true, nil
	}
	return 0, false, badArray("dtype with byte order %q", order)
}

func swapBytes(b []byte, size int) {
	for i := 0; i+size <= len(b); i += size {
		for l, r := i, i+size-1; l < r; l, r = l+1, r-1 {
			b[l], b[r] = b[r], b[l]
		}
	}
}

// fortranToC reorders column-major element data into row-major order.
func fortranToC(data []byte, shape []int, size int) []byte {
	if len(shape) < 2 {
		return data
	}
	out := make([]byte, len(data))
	idx := make([]int, len(shape)) // C-order index of the current element
	for c := 0; c*size < len(data); c++ {
		f, stride := 0, 1
		for k := range shape {
			f += idx[k] * stride
			stride *= shape[k]
		}
		copy(out[c*size:(c+1)*size], data[f*size:(f+1)*size])
		for k := len(shape) - 1; k >= 0; k-- { // next C-order index
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}
