package pack

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"os"
	"strings"
)

// ErrBadTorchFile is wrapped by every error ReadTorchStateDict returns about
// the content of the file (not about opening it).
var ErrBadTorchFile = errors.New("not a supported PyTorch state_dict file")

// TorchTensor is one tensor of a PyTorch state_dict, C-contiguous.
type TorchTensor struct {
	DType string // safetensors spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
	Shape []int
	Data  []byte // little-endian, prod(Shape)*size bytes, row-major
}

// ReadTorchStateDict reads a state_dict file written by torch.save. Names
// keep the order of the file.
//
// The file is torch's zip format (the default since torch 1.6): a zip whose
// entries sit under one top folder, <top>/data.pkl being a pickle of a dict
// of tensors and <top>/data/<key> the raw bytes of each storage. The pickle
// is run on the pickle machine of unpickle.go, which only records calls:
// the globals torch.save writes (_rebuild_tensor_v2, _rebuild_parameter,
// collections.OrderedDict, the torch.XxxStorage classes...) are recognised
// by name, never imported. Views keep the strides torch saved them with and
// are gathered into C order; tensors sharing a storage each get their part.
// The legacy pre-1.6 format is refused with a message saying so.
func ReadTorchStateDict(path string) (names []string, tensors map[string]TorchTensor, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("pack: %w", err)
	}
	return readTorch(f, st.Size(), path)
}

// torchDType is an element type: its safetensors name and size in bytes.
type torchDType struct {
	name string
	size int
}

// torchStorageClasses maps the legacy storage classes that torch.save still
// names in persistent ids (torch.FloatStorage...) to their element type.
var torchStorageClasses = map[string]torchDType{
	"FloatStorage":    {"F32", 4},
	"HalfStorage":     {"F16", 2},
	"BFloat16Storage": {"BF16", 2},
	"DoubleStorage":   {"F64", 8},
	"LongStorage":     {"I64", 8},
	"IntStorage":      {"I32", 4},
	"ShortStorage":    {"I16", 2},
	"CharStorage":     {"I8", 1},
	"ByteStorage":     {"U8", 1},
	"BoolStorage":     {"BOOL", 1},
	// Bytes: torch 2.x saves dtypes that have no legacy class (uint16,
	// float8...) as an UntypedStorage, the dtype being an argument of
	// _rebuild_tensor_v3.
	"UntypedStorage": {"U8", 1},
}

// torchDTypes maps torch dtype globals (torch.float32 pickles as the global
// torch.float32) to element types, for _rebuild_tensor_v3.
var torchDTypes = map[string]torchDType{
	"float32": {"F32", 4}, "float16": {"F16", 2}, "bfloat16": {"BF16", 2},
	"float64": {"F64", 8}, "int64": {"I64", 8}, "int32": {"I32", 4},
	"int16": {"I16", 2}, "int8": {"I8", 1}, "uint8": {"U8", 1}, "bool": {"BOOL", 1},
	"uint16": {"U16", 2}, "uint32": {"U32", 4}, "uint64": {"U64", 8},
	"float8_e4m3fn": {"F8_E4M3", 1}, "float8_e5m2": {"F8_E5M2", 1},
}

// torchStorage is what BINPERSID leaves on the stack for a persistent id
// ('storage', torch.XxxStorage, key, location, numel): a reference to the
// bytes of <top>/data/<key>, read only once a tensor uses it.
type torchStorage struct {
	class string // "FloatStorage"...
	dtype torchDType
	key   string
	numel uint64 // elements of dtype (bytes for an UntypedStorage)
}

func (s *torchStorage) nbytes() uint64 { return s.numel * uint64(s.dtype.size) }

// torchView is a tensor as the pickle describes it: a strided view of a
// storage, in elements of dtype.
type torchView struct {
	storage *torchStorage
	dtype   torchDType
	numel   uint64 // elements of dtype in the storage
	offset  int
	shape   []int
	stride  []int // 0 where the dimension has size 1 or the view is empty (never used)
}

const (
	opPersID    = 'P'
	opBinPersID = 'Q'
)

// torchMagic is the pickled magic number that starts a legacy (pre-1.6)
// torch file: LONG1 of 0x1950a86a20f9469cfc6c, after PROTO (and FRAME when
// saved with a pickle protocol above 3).
var torchMagic = []byte("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

func badTorch(file, format string, args ...any) error {
	return fmt.Errorf("pack: %s: %s: %w", file, fmt.Sprintf(format, args...), ErrBadTorchFile)
}

// readTorch reads the state_dict in r (size bytes); file names it in errors.
func readTorch(r io.ReaderAt, size int64, file string) ([]string, map[string]TorchTensor, error) {
	head := make([]byte, 512)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	pickled := len(head) > 0 && head[0] == opProto
	if pickled && bytes.Contains(head[:min(len(head), 32)], torchMagic) ||
		len(head) >= 262 && string(head[257:262]) == "ustar" { // torch < 0.4 wrote a tar
		return nil, nil, badTorch(file, "legacy (pre-1.6, non-zip) torch.save format; "+
			"load it with torch and save it again with torch 1.6 or newer")
	}
	if pickled {
		return nil, nil, badTorch(file, "a plain pickle, not torch.save's zip format")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are never used as paths
		return nil, nil, badTorch(file, "not a zip archive (truncated, or not written by torch.save?): %v", err)
	}
	t := &torchFile{file: file, size: size, entries: make(map[string]*zip.File, len(zr.File)),
		budget: 8*uint64(size) + 64<<20}
	for _, f := range zr.File {
		if t.entries[f.Name] != nil {
			return nil, nil, t.errorf("zip entry %q appears twice", f.Name)
		}
		t.entries[f.Name] = f
		// The top folder is the one holding data.pkl: torch names it
		// archive/ or, in some versions, after the file's base name.
		if top, ok := strings.CutSuffix(f.Name, "/data.pkl"); ok && top != "" && !strings.Contains(top, "/") {
			if t.top != "" && t.top != top {
				return nil, nil, t.errorf("zip holds two data.pkl, in %q and %q", t.top, top)
			}
			t.top = top
		}
	}
	if t.top == "" {
		return nil, nil, t.errorf("zip archive has no <folder>/data.pkl entry (not written by torch.save?)")
	}
	if f := t.entries[t.top+"/byteorder"]; f != nil {
		b, err := t.read(f)
		if err != nil {
			return nil, nil, err
		}
		if order := strings.TrimSpace(string(b)); order != "little" {
			return nil, nil, t.errorf("byteorder is %q (written on a big-endian machine?): only little-endian files are supported", order)
		}
	}
	pkl, err := t.read(t.entries[t.top+"/data.pkl"])
	if err != nil {
		return nil, nil, err
	}
	obj, err := runTorchPickle(pkl)
	if err != nil {
		return nil, nil, t.errorf("%s/data.pkl: %s", t.top, pickleDetail(err))
	}
	return t.stateDict(obj)
}

// pickleDetail returns the message of an unpickler error without its
// "pack: unpickle:" prefix and ErrBadPickle's text, which speaks of numpy.
func pickleDetail(err error) string {
	s := strings.TrimPrefix(err.Error(), "pack: unpickle: ")
	return strings.TrimSuffix(s, ": "+ErrBadPickle.Error())
}

// runTorchPickle executes data.pkl. It is unpickler.run plus what torch's
// pickles need beyond numpy's: BINPERSID (and PERSID) resolve persistent
// ids to storages, collections.OrderedDict() builds a dict that SETITEMS
// fills, and BUILD of a dict (the _metadata attribute of a state_dict) is
// ignored. Everything else is the numpy machine's. Bytes after STOP are
// ignored, as pickle.load does.
func runTorchPickle(b []byte) (any, error) {
	u := &unpickler{in: b, memo: make(map[uint64]any)}
	for u.pos < len(u.in) {
		op := u.in[u.pos]
		u.opPos = u.pos
		u.pos++
		var err error
		switch op {
		case opStop:
			if len(u.marks) != 0 || len(u.stack) != 1 {
				return nil, u.fail(op, "stack not empty at STOP")
			}
			return u.stack[0], nil
		case opBinPersID, opPersID:
			err = u.stepPersID(op)
		case opReduce:
			err = u.stepTorchReduce(op)
		case opBuild:
			err = u.stepTorchBuild(op)
		default:
			err = u.step(op)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("pack: unpickle: no STOP opcode before end of input (truncated?): %w", ErrBadPickle)
}

// stepPersID pops (BINPERSID) or reads (PERSID) a persistent id and pushes
// the storage it names.
func (u *unpickler) stepPersID(op byte) error {
	var pid any
	if op == opPersID { // a text id: torch never writes one, but say why it fails
		s, ok := u.line()
		if !ok {
			return u.fail(op, "truncated persistent id")
		}
		pid = s
	} else {
		var ok bool
		if pid, ok = u.pop(); !ok {
			return u.fail(op, "stack underflow")
		}
	}
	s, err := torchPersistentLoad(pid)
	if err != nil {
		return u.fail(op, "persistent id: %v", err)
	}
	u.push(s)
	return nil
}

// torchPersistentLoad checks a persistent id as torch.load's persistent_load
// reads it: ('storage', storage class, key, location, numel). The location
// (a device such as 'cpu' or 'cuda:0') does not matter: the bytes are read
// into memory either way.
func torchPersistentLoad(pid any) (*torchStorage, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("%s is not a 5-tuple ('storage', class, key, location, numel)", aPyType(pid))
	}
	if s, ok := pyStr(t[0]); !ok || s != "storage" {
		return nil, fmt.Errorf("type %s is not 'storage'", pyShort(t[0]))
	}
	class, ok := t[1].(pyGlobal)
	if !ok || class.module != "torch" {
		return nil, fmt.Errorf("storage class is %s, not a torch.XxxStorage", aPyType(t[1]))
	}
	dt, ok := torchStorageClasses[class.name]
	if !ok {
		return nil, fmt.Errorf("unsupported storage class torch.%s", class.name)
	}
	key, ok1 := t[2].(string)
	_, ok2 := pyStr(t[3])
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 || numel > 1<<48 {
		return nil, fmt.Errorf("storage key, location or size is malformed: %s, %s, %s", pyShort(t[2]), pyShort(t[3]), pyShort(t[4]))
	}
	return &torchStorage{class: class.name, dtype: dt, key: key, numel: uint64(numel)}, nil
}

// aPyType names the type of v with its article: "an int", "a dict".
func aPyType(v any) string {
	name := pyTypeName(v)
	if strings.ContainsRune("aeiouAEIOU", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

// pyShort shows a str or int, short, else names its type: error messages
// must not quote a whole blob from the file.
func pyShort(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			return fmt.Sprintf("%q...", x[:40])
		}
		return fmt.Sprintf("%q", x)
	case int64:
		return fmt.Sprint(x)
	}
	return aPyType(v)
}

// pyStr accepts a str, or the bytes a Python 2 str becomes (torch decodes
// those as ASCII).
func pyStr(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case pyBytes:
		return string(s), true
	}
	return "", false
}

func isOrderedDict(v any) bool {
	return v == pyGlobal{"collections", "OrderedDict"}
}

// stepTorchReduce turns collections.OrderedDict() into a dict, then leaves
// REDUCE to the numpy machine, which records the call. A Python 2
// OrderedDict pickles its items as the one argument, a list of pairs.
func (u *unpickler) stepTorchReduce(op byte) error {
	args, ok1 := u.pop()
	fn, ok2 := u.pop()
	if ok1 && ok2 && isOrderedDict(fn) {
		t, ok := args.(pyTuple)
		if ok && len(t) == 0 {
			u.push(&pyDict{})
			return nil
		}
		if ok && len(t) == 1 {
			if l, ok := t[0].(*pyList); ok {
				d := &pyDict{}
				for _, item := range l.items {
					var pair []any
					switch p := item.(type) {
					case pyTuple:
						pair = p
					case *pyList:
						pair = p.items
					}
					if len(pair) != 2 {
						return u.fail(op, "OrderedDict item is not a pair")
					}
					d.items = append(d.items, pair...)
				}
				u.push(d)
				return nil
			}
		}
		return u.fail(op, "OrderedDict with unexpected arguments")
	}
	if ok2 {
		u.push(fn)
	}
	if ok1 {
		u.push(args)
	}
	return u.step(op)
}

// stepTorchBuild drops the state BUILD gives a dict: a state_dict carries
// its modules' versions as a _metadata attribute, which says nothing about
// the tensors.
func (u *unpickler) stepTorchBuild(op byte) error {
	n := len(u.stack)
	floor := 0
	if len(u.marks) > 0 {
		floor = u.marks[len(u.marks)-1]
	}
	if n-2 >= floor {
		if _, ok := u.stack[n-2].(*pyDict); ok {
			u.stack = u.stack[:n-1]
			return nil
		}
	}
	return u.step(op)
}

// torchFile is an opened torch zip archive.
type torchFile struct {
	file    string // the path, for errors
	size    int64
	top     string
	entries map[string]*zip.File
	// budget is what is left of the bytes the tensors may copy. Storages
	// are bounded by the file, but one storage can back any number of
	// views (tied weights are two names for one tensor; a stride-0 view
	// repeats its elements), so a small file could otherwise ask for
	// terabytes. Eight times the file is far more than real ties need.
	budget uint64
}

func (t *torchFile) errorf(format string, args ...any) error {
	return badTorch(t.file, format, args...)
}

// read returns the content of a zip entry. The allocation is bounded by the
// file: a stored entry (torch stores, never compresses) cannot be larger
// than it, and a compressed one grows only as fast as it inflates.
func (t *torchFile) read(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, t.errorf("zip entry %q: %v", f.Name, err)
	}
	defer rc.Close()
	var b []byte
	if f.Method == zip.Store && f.UncompressedSize64 <= uint64(t.size) {
		b = make([]byte, f.UncompressedSize64)
		if _, err = io.ReadFull(rc, b); err == nil {
			// Read to EOF: that is where archive/zip checks the CRC.
			var one [1]byte
			if _, err = rc.Read(one[:]); err == io.EOF {
				err = nil
			} else if err == nil {
				err = errors.New("entry longer than its header says")
			}
		}
	} else {
		b, err = io.ReadAll(io.LimitReader(rc, int64(min(f.UncompressedSize64, math.MaxInt64-1))+1))
		if err == nil && uint64(len(b)) != f.UncompressedSize64 {
			err = errors.New("entry size differs from its header")
		}
	}
	if err != nil {
		return nil, t.errorf("zip entry %q: %v", f.Name, err)
	}
	return b, nil
}

// stateDict turns the unpickled dict into tensors: first every view is
// checked against the pickle alone, then storages are read, each once.
func (t *torchFile) stateDict(obj any) ([]string, map[string]TorchTensor, error) {
	d, ok := obj.(*pyDict)
	if !ok {
		if _, err := torchTensorView(obj, 0); err == nil {
			return nil, nil, t.errorf("%s/data.pkl holds a single tensor, not a state_dict (a dict of tensors)", t.top)
		}
		return nil, nil, t.errorf("%s/data.pkl holds %s, not a state_dict (a dict of tensors)", t.top, aPyType(obj))
	}
	names := make([]string, 0, len(d.items)/2)
	views := make(map[string]torchView, len(d.items)/2)
	uses := make(map[string]int) // tensors per storage key
	for i := 0; i < len(d.items); i += 2 {
		name, ok := d.items[i].(string)
		if !ok {
			return nil, nil, t.errorf("state_dict key is %s, not a str", aPyType(d.items[i]))
		}
		if _, dup := views[name]; dup {
			return nil, nil, t.errorf("tensor %q appears twice", name)
		}
		v, err := torchTensorView(d.items[i+1], 0)
		if err != nil {
			hint := ""
			if _, ok := d.items[i+1].(*pyDict); ok {
				hint = " (a training checkpoint? save model.state_dict() itself)"
			}
			return nil, nil, t.errorf("tensor %q: %v%s", name, err, hint)
		}
		names = append(names, name)
		views[name] = v
		uses[v.storage.key]++
	}
	storages := make(map[string]*torchStorage) // first reference of each key
	data := make(map[string][]byte)            // read, not yet used by all its tensors
	left := maps.Clone(uses)
	tensors := make(map[string]TorchTensor, len(names))
	for _, name := range names {
		v := views[name]
		s := v.storage
		if first, ok := storages[s.key]; !ok {
			storages[s.key] = s
		} else if first.class != s.class || first.numel != s.numel {
			return nil, nil, t.errorf("tensor %q: storage %q is a %s of %d elements here, a %s of %d before",
				name, s.key, s.class, s.numel, first.class, first.numel)
		}
		b, ok := data[s.key]
		if !ok {
			var err error
			if b, err = t.storageBytes(name, s); err != nil {
				return nil, nil, err
			}
			data[s.key] = b
		}
		tt, err := t.gatherTensor(name, v, b, uses[s.key] == 1)
		if err != nil {
			return nil, nil, err
		}
		tensors[name] = tt
		if left[s.key]--; left[s.key] == 0 {
			delete(data, s.key) // let the bytes go once the last view is copied
		}
	}
	return names, tensors, nil
}

// storageBytes reads <top>/data/<key> and checks it holds the storage.
func (t *torchFile) storageBytes(tensor string, s *torchStorage) ([]byte, error) {
	entry := t.top + "/data/" + s.key
	f := t.entries[entry]
	if f == nil {
		return nil, t.errorf("tensor %q: storage %q: zip entry %q is missing", tensor, s.key, entry)
	}
	if f.UncompressedSize64 != s.nbytes() {
		return nil, t.errorf("tensor %q: storage %q: %s holds %d bytes, a %s of %d elements needs %d",
			tensor, s.key, entry, f.UncompressedSize64, s.class, s.numel, s.nbytes())
	}
	return t.read(f)
}

// torchTensorView decodes the call that rebuilds a tensor:
//
//   - torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
//     requires_grad, backward_hooks[, metadata]);
//   - torch._utils._rebuild_tensor_v3(...the same, dtype[, metadata]), on
//     an UntypedStorage;
//   - wrappers of those: _rebuild_parameter(tensor, requires_grad, hooks),
//     _rebuild_parameter_with_state(..., state),
//     torch._tensor._rebuild_from_type_v2(func, type, args, state) (a tensor
//     with Python attributes or of a subclass) and
//     _rebuild_device_tensor_from_cpu_tensor(tensor, dtype, device, grad).
//
// requires_grad, hooks, metadata and Python state do not change the data.
func torchTensorView(obj any, depth int) (torchView, error) {
	call, ok := obj.(*pyCall)
	if !ok {
		if s, ok := obj.(*torchStorage); ok {
			return torchView{}, fmt.Errorf("value is a storage (torch.%s), not a tensor", s.class)
		}
		return torchView{}, fmt.Errorf("value is %s, not a tensor", aPyType(obj))
	}
	fn, args := call.fn, call.args
	if depth > 4 {
		return torchView{}, fmt.Errorf("%s.%s nested too deeply", fn.module, fn.name)
	}
	if fn.module == "torch._tensor" || fn.module == "torch.tensor" { // renamed in torch 1.9
		if fn.name != "_rebuild_from_type_v2" && fn.name != "_rebuild_from_type" {
			return torchView{}, fmt.Errorf("value is a %s.%s(...), not a tensor", fn.module, fn.name)
		}
		if len(args) != 4 {
			return torchView{}, fmt.Errorf("%s with %d arguments, want 4", fn.name, len(args))
		}
		inner, ok1 := args[0].(pyGlobal)
		innerArgs, ok2 := args[2].(pyTuple)
		if !ok1 || !ok2 {
			return torchView{}, fmt.Errorf("%s without a function and argument tuple", fn.name)
		}
		return torchTensorView(&pyCall{fn: inner, args: innerArgs}, depth+1)
	}
	if fn.module != "torch._utils" {
		return torchView{}, fmt.Errorf("value is %s, not a tensor", aPyType(obj))
	}
	switch fn.name {
	case "_rebuild_tensor_v2", "_rebuild_tensor_v3":
		return torchRebuildTensor(fn.name, args)
	case "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_device_tensor_from_cpu_tensor":
		if len(args) < 3 {
			return torchView{}, fmt.Errorf("%s with %d arguments", fn.name, len(args))
		}
		return torchTensorView(args[0], depth+1)
	case "_rebuild_qtensor":
		return torchView{}, errors.New("quantized tensors are not supported")
	case "_rebuild_sparse_tensor", "_rebuild_sparse_csr":
		return torchView{}, errors.New("sparse tensors are not supported")
	case "_rebuild_meta_tensor_no_storage":
		return torchView{}, errors.New("a meta tensor has no data")
	}
	return torchView{}, fmt.Errorf("unsupported tensor kind torch._utils.%s", fn.name)
}

// torchRebuildTensor checks the arguments of _rebuild_tensor_v2/v3.
func torchRebuildTensor(fn string, args pyTuple) (torchView, error) {
	nargs := 6 // v2: 6, 7 with metadata
	if fn == "_rebuild_tensor_v3" {
		nargs = 7 // dtype after the hooks
	}
	if len(args) != nargs && len(args) != nargs+1 {
		return torchView{}, fmt.Errorf("%s with %d arguments, want %d or %d", fn, len(args), nargs, nargs+1)
	}
	s, ok := args[0].(*torchStorage)
	if !ok {
		return torchView{}, fmt.Errorf("%s of %s, not of a storage", fn, aPyType(args[0]))
	}
	v := torchView{storage: s, dtype: s.dtype, numel: s.numel}
	if fn == "_rebuild_tensor_v3" {
		g, ok := args[6].(pyGlobal)
		dt, known := torchDTypes[g.name]
		if !ok || g.module != "torch" || !known {
			return torchView{}, fmt.Errorf("unsupported dtype %s", pyTypeName(args[6]))
		}
		if s.class != "UntypedStorage" || s.numel%uint64(dt.size) != 0 {
			return torchView{}, fmt.Errorf("dtype %s on a %s of %d elements", g.name, s.class, s.numel)
		}
		v.dtype, v.numel = dt, s.numel/uint64(dt.size)
	} else if s.class == "UntypedStorage" {
		return torchView{}, fmt.Errorf("%s of an UntypedStorage", fn)
	}
	offset, ok := args[1].(int64)
	if !ok || offset < 0 || offset > 1<<48 {
		return torchView{}, fmt.Errorf("bad storage offset %s", pyShort(args[1]))
	}
	v.offset = int(offset)
	size, ok1 := args[2].(pyTuple)
	stride, ok2 := args[3].(pyTuple)
	if !ok1 || !ok2 || len(size) != len(stride) {
		return torchView{}, fmt.Errorf("size and stride are not tuples of one length")
	}
	v.shape = make([]int, len(size))
	v.stride = make([]int, len(size))
	strides := make([]int64, len(size))
	for k := range size {
		d, ok1 := size[k].(int64)
		st, ok2 := stride[k].(int64)
		if !ok1 || !ok2 || d < 0 || d > 1<<48 || st < 0 {
			return torchView{}, fmt.Errorf("bad size %s or stride %s", pyInts(size), pyInts(stride))
		}
		v.shape[k], strides[k] = int(d), st
	}
	n, ok := elementCount(v.shape)
	if !ok {
		return torchView{}, fmt.Errorf("size %s is too large", pyInts(size))
	}
	for k, st := range strides {
		if n == 0 || v.shape[k] == 1 {
			continue // strides an empty view or a size-1 dimension never use
		}
		if uint64(st) > v.numel { // past the storage: no need to multiply
			return torchView{}, fmt.Errorf("storage %q has %d elements, stride %s steps past it",
				s.key, v.numel, pyInts(stride))
		}
		v.stride[k] = int(st)
	}
	need, ok := v.extent()
	if !ok {
		return torchView{}, fmt.Errorf("offset %d, size %s and stride %s overflow", offset, pyInts(size), pyInts(stride))
	}
	if need > v.numel {
		return torchView{}, fmt.Errorf("storage %q has %d elements, the tensor needs %d (offset %d, size %s, stride %s)",
			s.key, v.numel, need, offset, pyInts(size), pyInts(stride))
	}
	return v, nil
}

// pyInts formats a tuple of ints as Python does: (3, 4), (5,), (); past
// 16 items, "...".
func pyInts(t pyTuple) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range t {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 16 {
			b.WriteString("...")
			break
		}
		b.WriteString(pyShort(v))
	}
	if len(t) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// extent returns 1 + the largest storage index the view reads (0 for an
// empty view); false if that overflows.
func (v torchView) extent() (uint64, bool) {
	last := uint64(v.offset)
	for k, d := range v.shape {
		if d == 0 {
			return 0, true
		}
		hi, lo := bits.Mul64(uint64(d-1), uint64(v.stride[k]))
		var carry uint64
		last, carry = bits.Add64(last, lo, 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
	}
	return last + 1, last < math.MaxUint64
}

// contiguous reports whether the view is C-contiguous (strides of size-1
// dimensions do not matter, as in torch).
func (v torchView) contiguous() bool {
	want := 1
	for k := len(v.shape) - 1; k >= 0; k-- {
		if v.shape[k] > 1 && v.stride[k] != want {
			return false
		}
		want *= v.shape[k]
	}
	return true
}

// gatherTensor copies the view out of its storage bytes in C order. A
// contiguous tensor that alone uses the whole of its storage keeps the bytes
// read; others get their own copy, so no two tensors share memory.
func (t *torchFile) gatherTensor(name string, v torchView, storage []byte, alone bool) (TorchTensor, error) {
	n, _ := elementCount(v.shape) // checked by torchRebuildTensor
	es := v.dtype.size
	out := TorchTensor{DType: v.dtype.name, Shape: v.shape}
	if n == 0 {
		out.Data = []byte{} // the offset of an empty view is never checked
		return out, nil
	}
	contiguous := v.contiguous()
	if contiguous && alone && n == v.numel {
		out.Data = storage[:len(storage):len(storage)]
		return out, nil
	}
	nbytes := n * uint64(es)
	if nbytes > t.budget {
		return TorchTensor{}, t.errorf("tensor %q: copying its %d bytes out of storage %q would take the tensors past 8 times the file's size "+
			"(too many views of one storage, or a stride-0 view repeating it)", name, nbytes, v.storage.key)
	}
	t.budget -= nbytes
	if contiguous {
		lo, hi := v.offset*es, (v.offset+int(n))*es
		out.Data = append([]byte{}, storage[lo:hi]...)
		return out, nil
	}
	out.Data = make([]byte, int(n)*es)
	gather(out.Data, storage, es, v.offset, v.shape, v.stride)
	return out, nil
}

// gather copies the elements of the strided view (offset, shape, stride, in
// elements of es bytes) of src into dst in C order, a row of the last
// dimension at a time. The view must lie inside src and dst hold it.
func gather(dst, src []byte, es, offset int, shape, stride []int) {
	if len(dst) == 0 {
		return
	}
	nd := len(shape)
	if nd == 0 {
		copy(dst, src[offset*es:(offset+1)*es])
		return
	}
	inner, step := shape[nd-1], stride[nd-1]
	idx := make([]int, nd-1) // index of the row in the outer dimensions
	base := offset           // storage index of the row's first element
	for out := 0; out < len(dst); {
		if step == 1 {
			out += copy(dst[out:], src[base*es:(base+inner)*es])
		} else {
			for j := range inner {
				p := (base + j*step) * es
				out += copy(dst[out:out+es], src[p:p+es])
			}
		}
		for k := nd - 2; k >= 0; k-- { // next row
			idx[k]++
			base += stride[k]
			if idx[k] < shape[k] {
				break
			}
			base -= stride[k] * shape[k]
			idx[k] = 0
		}
	}
}
