// Package safetensors reads and writes t2t's weight files in the safetensors
// layout, the format of every model, adapter, ControlNet and training
// checkpoint file:
//
//	[8 bytes]  N, the header length, little-endian uint64
//	[N bytes]  JSON header: {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
//	           ..., "__metadata__": {"key": "value"}}, padded with spaces
//	[rest]     the data section; data_offsets are relative to its start
//
// Write and Save always write F32 (or F16 with WriteAs), tensors ordered by name, JSON keys
// sorted and the header padded to 8 bytes, so the same weights give the same bytes. Read and
// Load also read F64, F16 and BF16 tensors, converting them to float32, and check every size
// against the input before allocating for it.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// Tensor is one named weight: its key is Name (hierarchical, e.g.
// "down.0.res.1.conv1.weight"). Data is row-major; a scalar has an empty Shape and one value.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32 // len == product of Shape
}

// MaxHeaderSize bounds the JSON header of a checkpoint; a larger header length marks a corrupt
// file rather than a request to allocate that much.
const MaxHeaderSize = 100 << 20

const metadataKey = "__metadata__"

// ErrBad is matched (errors.Is) by every *Error: the input is not a valid
// checkpoint. A truncated input also matches io.ErrUnexpectedEOF.
var ErrBad = errors.New("safetensors: bad checkpoint")

// Error says what is wrong with a checkpoint: File names the file (or the name given
// to Read), Tensor the tensor concerned, if any.
type Error struct {
	File   string
	Tensor string
	Err    error
}

func (e *Error) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("safetensors: checkpoint %q: tensor %q: %v", e.File, e.Tensor, e.Err)
	}
	return fmt.Sprintf("safetensors: checkpoint %q: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes every Error match ErrBad.
func (e *Error) Is(target error) bool { return target == ErrBad }

// headerEntry is one tensor's entry in the JSON header.
type headerEntry struct {
	Dtype       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// numElements is the product of shape, or an error if a dimension is negative or the product
// overflows max.
func numElements(shape []int64, max int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d > max || d != 0 && n > max/d {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// sortedForWrite validates the tensors to write; it returns them sorted by name.
func sortedForWrite(ts []Tensor) ([]*Tensor, error) {
	sorted := make([]*Tensor, len(ts))
	for i := range ts {
		sorted[i] = &ts[i]
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i, t := range sorted {
		switch {
		case t.Name == "":
			return nil, errors.New("safetensors: Write: tensor with an empty name")
		case t.Name == metadataKey:
			return nil, fmt.Errorf("safetensors: Write: tensor name %q is reserved", t.Name)
		case i > 0 && sorted[i-1].Name == t.Name:
			return nil, fmt.Errorf("safetensors: Write: duplicate tensor name %q", t.Name)
		}
		shape := make([]int64, len(t.Shape))
		for k, d := range t.Shape {
			shape[k] = int64(d)
		}
		n, err := numElements(shape, math.MaxInt64/4)
		if err != nil {
			return nil, fmt.Errorf("safetensors: Write: tensor %q: %v", t.Name, err)
		}
		if n != int64(len(t.Data)) {
			return nil, fmt.Errorf("safetensors: Write: tensor %q: shape %v needs %d values, Data has %d",
				t.Name, t.Shape, n, len(t.Data))
		}
	}
	return sorted, nil
}

// Write writes ts and meta to w as F32 safetensors. The output is deterministic:
// tensors are stored in name order and the header's keys are sorted. It returns an error,
// before writing anything, on an empty, reserved ("__metadata__") or duplicate name, or a
// Data whose length is not the product of Shape.
func Write(w io.Writer, ts []Tensor, meta map[string]string) error {
	return WriteAs(w, ts, meta, "F32")
}

// WriteAs is Write with the stored dtype chosen: "F32", or "F16" (half
// the size; values rounded to the nearest half-precision number, ties to even, those beyond
// its range to ±Inf, which the caller should avoid).
func WriteAs(w io.Writer, ts []Tensor, meta map[string]string, dtype string) error {
	size := int64(4)
	switch dtype {
	case "F32":
	case "F16":
		size = 2
	default:
		return fmt.Errorf("safetensors: Write: dtype %q: want F32 or F16", dtype)
	}
	sorted, err := sortedForWrite(ts)
	if err != nil {
		return err
	}

	// Header: a map marshals with sorted keys.
	header := make(map[string]any, len(sorted)+1)
	var offset int64
	for _, t := range sorted {
		shape := make([]int64, len(t.Shape)) // non-nil: a scalar's shape is [], not null
		for k, d := range t.Shape {
			shape[k] = int64(d)
		}
		end := offset + size*int64(len(t.Data))
		header[t.Name] = headerEntry{Dtype: dtype, Shape: shape, DataOffsets: []int64{offset, end}}
		offset = end
	}
	if len(meta) > 0 {
		header[metadataKey] = meta
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return fmt.Errorf("safetensors: Write: %v", err)
	}
	hdr := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// Pad with spaces so that the data section starts 8-byte aligned.
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	bw.Write(n[:])
	bw.Write(hdr)
	chunk := make([]byte, 0, 1<<16)
	for _, t := range sorted {
		for _, v := range t.Data {
			if len(chunk) == cap(chunk) {
				bw.Write(chunk)
				chunk = chunk[:0]
			}
			if size == 2 {
				chunk = binary.LittleEndian.AppendUint16(chunk, float32ToFloat16(v))
			} else {
				chunk = binary.LittleEndian.AppendUint32(chunk, math.Float32bits(v))
			}
		}
	}
	bw.Write(chunk)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: writing checkpoint: %w", err)
	}
	return nil
}

// Save writes ts and meta to path.tmp and renames it to path, so that path holds
// either the old checkpoint or the complete new one.
func Save(path string, ts []Tensor, meta map[string]string) (err error) {
	return SaveAs(path, ts, meta, "F32")
}

// SaveAs is Save with the stored dtype chosen (see WriteAs).
func SaveAs(path string, ts []Tensor, meta map[string]string, dtype string) (err error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		// a device or a pipe (/dev/null) is written in place: renaming
		// over it would replace it
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("safetensors: saving: %w", err)
		}
		defer f.Close()
		return WriteAs(f, ts, meta, dtype)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("safetensors: saving checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := WriteAs(f, ts, meta, dtype); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("safetensors: saving checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safetensors: saving checkpoint: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("safetensors: saving checkpoint: %w", err)
	}
	return nil
}

// Load reads the checkpoint at path; see Read.
func Load(path string) ([]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: loading checkpoint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: loading checkpoint: %w", err)
	}
	size := int64(-1)
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return read(bufio.NewReaderSize(f, 1<<16), path, size)
}

// Read reads a whole checkpoint from r; name identifies it in errors. Tensors come
// back sorted by name, F64, F16 and BF16 data converted to float32; the metadata map is never
// nil. A malformed input gives a *Error; a truncated one also matches
// io.ErrUnexpectedEOF. Trailing bytes after the data section are an error.
func Read(r io.Reader, name string) ([]Tensor, map[string]string, error) {
	return read(r, name, -1)
}

// span is a validated header entry.
type span struct {
	name       string
	dtype      string
	shape      []int
	n          int64 // number of elements
	begin, end int64
}

var dtypeSize = map[string]int64{"F32": 4, "F64": 8, "F16": 2, "BF16": 2}

// ReadHeader reads the header of a checkpoint from r, and nothing of its data: the tensors'
// names and shapes (Data nil) and the metadata, each entry checked as Read checks it. It lets
// a loader compare what a file holds with what a model expects before it allocates the
// model (see Check).
func ReadHeader(r io.Reader, name string) ([]Tensor, map[string]string, error) {
	h, err := readHeader(r, name, -1)
	if err != nil {
		return nil, nil, err
	}
	ts := make([]Tensor, len(h.spans))
	for i, s := range h.spans {
		ts[i] = Tensor{Name: s.name, Shape: s.shape}
	}
	return ts, h.meta, nil
}

// header is a checkpoint's validated header.
type header struct {
	n     int64 // its length in bytes
	spans []span
	meta  map[string]string
	total int64 // bytes of the data section
}

// readHeader reads and checks the header of a checkpoint of size bytes (-1: unknown): the
// tensors must cover the data section exactly and, when size is known, the file must hold it.
func readHeader(r io.Reader, name string, size int64) (*header, error) {
	bad := func(tensor string, format string, args ...any) error {
		return &Error{File: name, Tensor: tensor, Err: fmt.Errorf(format, args...)}
	}
	truncated := func(what string, got, want int64) error { return truncatedError(name, what, got, want) }

	// Header length.
	var nb [8]byte
	if k, err := io.ReadFull(r, nb[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, truncated("header length", int64(k), 8)
		}
		return nil, ioError(name, err)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > MaxHeaderSize {
		return nil, bad("", "header length %d is over the %d limit", n, MaxHeaderSize)
	}
	if size >= 0 && int64(n) > size-8 {
		return nil, truncated("header", size-8, int64(n))
	}
	if n < 2 {
		return nil, bad("", "header length %d is too short for a JSON object", n)
	}

	// Header: read what is there, at most n bytes, before trusting n.
	hdr, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, ioError(name, err)
	}
	if int64(len(hdr)) < int64(n) {
		return nil, truncated("header", int64(len(hdr)), int64(n))
	}
	spans, meta, err := parseHeader(hdr, bad)
	if err != nil {
		return nil, err
	}

	// The data section must be exactly covered by the tensors, in some order.
	var total int64
	for _, s := range spans {
		total = max(total, s.end)
	}
	byBegin := slices.Clone(spans)
	sort.SliceStable(byBegin, func(i, j int) bool {
		if byBegin[i].begin != byBegin[j].begin {
			return byBegin[i].begin < byBegin[j].begin
		}
		return byBegin[i].end < byBegin[j].end
	})
	var pos int64
	var prev string
	for _, s := range byBegin {
		if s.begin < pos {
			return nil, bad(s.name, "data_offsets [%d %d] overlap tensor %q, which ends at %d", s.begin, s.end, prev, pos)
		}
		if s.begin > pos {
			return nil, bad(s.name, "data_offsets [%d %d] leave a hole: bytes [%d %d] belong to no tensor", s.begin, s.end, pos, s.begin)
		}
		pos, prev = s.end, s.name
	}
	if size >= 0 {
		if have := size - 8 - int64(n); have < total {
			return nil, truncated("data section", have, total)
		} else if have > total {
			return nil, bad("", "%d bytes after the data section, which the header says is %d bytes", have-total, total)
		}
	}
	return &header{n: int64(n), spans: spans, meta: meta, total: total}, nil
}

// truncatedError says that the part what of checkpoint name is got bytes instead of want.
func truncatedError(name, what string, got, want int64) error {
	return &Error{File: name, Err: fmt.Errorf("%w: %s is %d bytes, want %d", io.ErrUnexpectedEOF, what, got, want)}
}

// ioError wraps an error of the reader of checkpoint name.
func ioError(name string, err error) error {
	return fmt.Errorf("safetensors: reading checkpoint %q: %w", name, err)
}

// read reads a checkpoint of size bytes (-1: unknown).
func read(r io.Reader, name string, size int64) ([]Tensor, map[string]string, error) {
	h, err := readHeader(r, name, size)
	if err != nil {
		return nil, nil, err
	}
	total := h.total
	// Data: read what is there, at most total bytes, before trusting total.
	data, err := io.ReadAll(io.LimitReader(r, total))
	if err != nil {
		return nil, nil, ioError(name, err)
	}
	if int64(len(data)) < total {
		return nil, nil, truncatedError(name, "data section", int64(len(data)), total)
	}
	var one [1]byte
	if k, err := io.ReadFull(r, one[:]); k > 0 {
		return nil, nil, &Error{File: name, Err: fmt.Errorf("trailing bytes after the data section, which the header says is %d bytes", total)}
	} else if err != io.EOF {
		return nil, nil, ioError(name, err)
	}

	ts := make([]Tensor, len(h.spans))
	for i, s := range h.spans {
		ts[i] = Tensor{Name: s.name, Shape: s.shape, Data: decodeFloats(s.dtype, data[s.begin:s.end], s.n)}
	}
	return ts, h.meta, nil
}

// parseHeader validates the JSON header; it returns the tensors sorted by name, each with a
// known dtype, non-negative dims and data_offsets that match its shape.
func parseHeader(hdr []byte, bad func(string, string, ...any) error) ([]span, map[string]string, error) {
	trimmed := bytes.TrimLeft(hdr, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, bad("", "header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, nil, bad("", "invalid JSON header: %v", err)
	}
	var spans []span
	meta := map[string]string{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad("", "invalid JSON header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, bad("", "invalid JSON header: key %v is not a string", tok)
		}
		if seen[key] {
			return nil, nil, bad(key, "appears twice in the header")
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, bad("", "invalid JSON header: %v", err)
		}
		if key == metadataKey {
			if err := json.Unmarshal(raw, &meta); err != nil || meta == nil {
				return nil, nil, bad("", "__metadata__ is not an object of strings: %s", clip(raw))
			}
			continue
		}
		s, err := parseEntry(key, raw)
		if err != nil {
			return nil, nil, bad(key, "%v", err)
		}
		spans = append(spans, s)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, bad("", "invalid JSON header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, bad("", "invalid JSON header: data after the object")
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].name < spans[j].name })
	return spans, meta, nil
}

// parseEntry validates one tensor's header entry.
func parseEntry(name string, raw json.RawMessage) (span, error) {
	var e headerEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		return span{}, fmt.Errorf("bad header entry %s: %v", clip(raw), err)
	}
	size, ok := dtypeSize[e.Dtype]
	switch {
	case e.Dtype == "":
		return span{}, errors.New("no dtype")
	case !ok:
		return span{}, fmt.Errorf("unsupported dtype %q (want F32, F64, F16 or BF16)", e.Dtype)
	case e.Shape == nil:
		return span{}, errors.New("no shape")
	case len(e.DataOffsets) != 2:
		return span{}, fmt.Errorf("data_offsets %v: want [begin, end]", e.DataOffsets)
	}
	n, err := numElements(e.Shape, math.MaxInt32) // bounded again below by the data section
	if err != nil {
		return span{}, err
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin {
		return span{}, fmt.Errorf("data_offsets [%d %d] are not a range", begin, end)
	}
	if end-begin != n*size {
		return span{}, fmt.Errorf("data_offsets [%d %d] span %d bytes, shape %v of %s needs %d",
			begin, end, end-begin, e.Shape, e.Dtype, n*size)
	}
	shape := make([]int, len(e.Shape))
	for i, d := range e.Shape {
		shape[i] = int(d)
	}
	return span{name: name, dtype: e.Dtype, shape: shape, n: n, begin: begin, end: end}, nil
}

// clip shortens raw JSON for an error message.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// decodeFloats converts n little-endian values of dtype in b to float32.
func decodeFloats(dtype string, b []byte, n int64) []float32 {
	out := make([]float32, n)
	le := binary.LittleEndian
	for i := range out {
		switch dtype {
		case "F32":
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		case "F64":
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		case "F16":
			out[i] = float16ToFloat32(le.Uint16(b[2*i:]))
		case "BF16":
			out[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	}
	return out
}

// float32ToFloat16 rounds a float32 to the nearest IEEE 754 half-precision value, ties to
// even; NaN stays NaN, values beyond the half range become ±Inf.
func float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal half (or zero)
		if e < -10 {
			return sign
		}
		m := frac | 0x800000 // implicit bit
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && h&1 == 1 {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || rem == 0x1000 && h&1 == 1 {
		h++ // may carry into the exponent, up to Inf: correct
	}
	return sign | uint16(h)
}

// float16ToFloat32 converts an IEEE 754 half-precision value.
func float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0: // ±0
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// Check compares loaded tensors with the ones a model expects: the same names with the
// same shapes. A tensor with nil Data stands for its shape alone (ReadHeader, a model's
// shapes before it is built). The error lists the first few problems: missing "x", unexpected "y",
// "z" has shape [3 4], model wants [4 3].
func Check(got, want []Tensor) error {
	const show = 5
	var problems []string
	gotByName := make(map[string]*Tensor, len(got))
	for i := range got {
		t := &got[i]
		if _, dup := gotByName[t.Name]; dup {
			problems = append(problems, fmt.Sprintf("%q appears twice", t.Name))
			continue
		}
		gotByName[t.Name] = t
		if n := product(t.Shape); t.Data != nil && n != len(t.Data) {
			problems = append(problems, fmt.Sprintf("%q has %d values for shape %v", t.Name, len(t.Data), t.Shape))
		}
	}
	wantNames := make(map[string]bool, len(want))
	for _, w := range want {
		wantNames[w.Name] = true
		g, ok := gotByName[w.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing %q", w.Name))
		case !slices.Equal(g.Shape, w.Shape):
			problems = append(problems, fmt.Sprintf("%q has shape %v, model wants %v", w.Name, g.Shape, w.Shape))
		}
	}
	for _, g := range got {
		if !wantNames[g.Name] {
			problems = append(problems, fmt.Sprintf("unexpected %q", g.Name))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	msg := strings.Join(problems[:min(show, len(problems))], "; ")
	if len(problems) > show {
		msg += fmt.Sprintf("; and %d more", len(problems)-show)
	}
	return fmt.Errorf("safetensors: checkpoint does not match the model (%d problems): %s", len(problems), msg)
}

// product is the number of elements of shape; -1 if a dimension is negative.
func product(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}
