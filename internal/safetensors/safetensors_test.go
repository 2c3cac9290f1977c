package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"
)

// ckptSample is a set of tensors covering the awkward cases: a scalar, an empty tensor, special
// float values, names whose order differs from their order here.
func ckptSample() []Tensor {
	return []Tensor{
		{Name: "down.0.res.1.conv1.weight", Shape: []int{2, 3, 1, 1}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "down.0.res.1.conv1.bias", Shape: []int{2}, Data: []float32{-0.5, 0.25}},
		{Name: "scale", Shape: []int{}, Data: []float32{3.5}},
		{Name: "empty", Shape: []int{0, 4}, Data: nil},
		{Name: "special", Shape: []int{5}, Data: []float32{
			float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)),
			math.Float32frombits(0x7fc00001), math.SmallestNonzeroFloat32}},
	}
}

// ckptEqual reports whether two tensor lists are equal, comparing values bit for bit; got is in
// name order, want in any order.
func ckptEqual(t *testing.T, got, want []Tensor) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	if len(got) != len(want) {
		t.Fatalf("got %d tensors, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || !slices.Equal(g.Shape, w.Shape) || len(g.Data) != len(w.Data) {
			t.Fatalf("tensor %d: got %q %v (%d values), want %q %v (%d values)",
				i, g.Name, g.Shape, len(g.Data), w.Name, w.Shape, len(w.Data))
		}
		if g.Shape == nil {
			t.Errorf("tensor %q: nil Shape", g.Name)
		}
		for k := range g.Data {
			if math.Float32bits(g.Data[k]) != math.Float32bits(w.Data[k]) {
				t.Fatalf("tensor %q value %d: got %v, want %v", g.Name, k, g.Data[k], w.Data[k])
			}
		}
	}
}

func ckptWrite(t *testing.T, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSafetensorsRoundTrip(t *testing.T) {
	ts := ckptSample()
	rng := rand.New(rand.NewSource(1))
	big := Tensor{Name: "big", Shape: []int{256, 1024}, Data: make([]float32, 256*1024)}
	for i := range big.Data {
		big.Data[i] = float32(rng.NormFloat64())
	}
	ts = append(ts, big)
	meta := map[string]string{"step": "100", "config": `{"channels":[32,64]}`, "<&>": "é\n"}

	b := ckptWrite(t, ts, meta)
	got, gotMeta, err := Read(bytes.NewReader(b), "mem")
	if err != nil {
		t.Fatal(err)
	}
	ckptEqual(t, got, ts)
	if !maps.Equal(gotMeta, meta) {
		t.Errorf("metadata: got %v, want %v", gotMeta, meta)
	}

	// The same through a file.
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := Save(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp left behind: %v", path, err)
	}
	onDisk, _ := os.ReadFile(path)
	if !bytes.Equal(onDisk, b) {
		t.Errorf("Save wrote different bytes from Write")
	}
	got, gotMeta, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ckptEqual(t, got, ts)
	if !maps.Equal(gotMeta, meta) {
		t.Errorf("metadata: got %v, want %v", gotMeta, meta)
	}

	// No tensors and no metadata: a valid, empty checkpoint with a non-nil metadata map.
	got, gotMeta, err = Read(bytes.NewReader(ckptWrite(t, nil, nil)), "empty")
	if err != nil || len(got) != 0 || gotMeta == nil || len(gotMeta) != 0 {
		t.Errorf("empty checkpoint: got %v, %v, %v", got, gotMeta, err)
	}
}

func TestSafetensorsDeterministic(t *testing.T) {
	ts := ckptSample()
	meta := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}
	first := ckptWrite(t, ts, meta)
	for i := 0; i < 10; i++ {
		rev := slices.Clone(ts)
		slices.Reverse(rev)
		m := map[string]string{}
		for _, k := range []string{"d", "c", "b", "a"} {
			m[k] = meta[k]
		}
		if b := ckptWrite(t, rev, m); !bytes.Equal(b, first) {
			t.Fatalf("run %d: different bytes for the same tensors", i)
		}
	}
	n := binary.LittleEndian.Uint64(first)
	if (8+n)%8 != 0 || first[8] != '{' {
		t.Errorf("header length %d not aligned or header does not start with '{'", n)
	}
}

// TestSafetensorsGolden checks the exact bytes written for a small checkpoint against the
// layout spelled out by hand.
func TestSafetensorsGolden(t *testing.T) {
	ts := []Tensor{
		{Name: "b", Shape: []int{2}, Data: []float32{1, -2}},
		{Name: "a", Shape: []int{}, Data: []float32{0.5}},
	}
	header := `{"__metadata__":{"k":"v"},` +
		`"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},` +
		`"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	var want []byte
	want = binary.LittleEndian.AppendUint64(want, uint64(len(header)))
	want = append(want, header...)
	want = append(want, 0x00, 0x00, 0x00, 0x3f) // 0.5
	want = append(want, 0x00, 0x00, 0x80, 0x3f) // 1
	want = append(want, 0x00, 0x00, 0x00, 0xc0) // -2
	got := ckptWrite(t, ts, map[string]string{"k": "v"})
	if !bytes.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// ckptFile builds a safetensors file from a header and a data section.
func ckptFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestSafetensorsReadSpec(t *testing.T) {
	// Written by hand from the spec: data not in name order, every dtype, a padded header.
	header := `{"w64":{"dtype":"F64","shape":[2],"data_offsets":[8,24]},` +
		"\n" + `"w32":{"data_offsets":[0,8],"shape":[1,2],"dtype":"F32"},` +
		`"__metadata__":{"format":"pt"},` +
		`"wh":{"dtype":"F16","shape":[4],"data_offsets":[24,32]},` +
		`"wb":{"dtype":"BF16","shape":[1],"data_offsets":[32,34]}}`
	header += "      "
	var data []byte
	le := binary.LittleEndian
	data = le.AppendUint32(data, math.Float32bits(1.5))
	data = le.AppendUint32(data, math.Float32bits(-3))
	data = le.AppendUint64(data, math.Float64bits(0.25))
	data = le.AppendUint64(data, math.Float64bits(1e300)) // overflows float32: +Inf
	data = le.AppendUint16(data, 0x3c00)                  // 1
	data = le.AppendUint16(data, 0xc000)                  // -2
	data = le.AppendUint16(data, 0x0001)                  // 2^-24, subnormal
	data = le.AppendUint16(data, 0xfc00)                  // -Inf
	data = le.AppendUint16(data, 0x3fc0)                  // bf16 1.5
	got, meta, err := Read(bytes.NewReader(ckptFile(header, data)), "spec")
	if err != nil {
		t.Fatal(err)
	}
	inf := float32(math.Inf(1))
	want := []Tensor{
		{Name: "w32", Shape: []int{1, 2}, Data: []float32{1.5, -3}},
		{Name: "w64", Shape: []int{2}, Data: []float32{0.25, inf}},
		{Name: "wh", Shape: []int{4}, Data: []float32{1, -2, 1.0 / (1 << 24), -inf}},
		{Name: "wb", Shape: []int{1}, Data: []float32{1.5}},
	}
	ckptEqual(t, got, want)
	if meta["format"] != "pt" || len(meta) != 1 {
		t.Errorf("metadata %v", meta)
	}
}

func TestFloat16(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x3555, 0.333251953125},
		{0x0400, 1.0 / (1 << 14)}, {0x03ff, 1023.0 / (1 << 24)}, {0x8001, -1.0 / (1 << 24)},
		{0x7c00, float32(math.Inf(1))},
	} {
		if got := float16ToFloat32(c.h); got != c.want {
			t.Errorf("%#04x: got %v, want %v", c.h, got, c.want)
		}
	}
	if got := float16ToFloat32(0x8000); math.Float32bits(got) != 0x80000000 {
		t.Errorf("-0: got %v", got)
	}
	if got := float16ToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("NaN: got %v", got)
	}
}

// TestSafetensorsCrossCheck reads our output with an independent safetensors implementation.
func TestSafetensorsCrossCheck(t *testing.T) {
	ts := ckptSample()
	meta := map[string]string{"step": "7"}
	st, err := safetensors.Deserialize(ckptWrite(t, ts, meta))
	if err != nil {
		t.Fatal(err)
	}
	if st.Len() != len(ts) {
		t.Fatalf("%d tensors, want %d", st.Len(), len(ts))
	}
	for _, want := range ts {
		view, ok := st.Tensor(want.Name)
		if !ok {
			t.Fatalf("tensor %q not found", want.Name)
		}
		if view.DType().String() != "F32" {
			t.Errorf("%q: dtype %v", want.Name, view.DType())
		}
		shape := make([]int, len(view.Shape()))
		for i, d := range view.Shape() {
			shape[i] = int(d)
		}
		if !slices.Equal(shape, want.Shape) {
			t.Errorf("%q: shape %v, want %v", want.Name, shape, want.Shape)
		}
		var data []byte
		for _, v := range want.Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		if !bytes.Equal(view.Data(), data) {
			t.Errorf("%q: data differs", want.Name)
		}
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	for _, c := range []struct {
		ts   []Tensor
		want string
	}{
		{[]Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "a", Shape: []int{1}, Data: []float32{2}}}, `duplicate tensor name "a"`},
		{[]Tensor{{Name: "a", Shape: []int{2, 3}, Data: make([]float32, 5)}}, `tensor "a": shape [2 3] needs 6 values, Data has 5`},
		{[]Tensor{{Name: "a", Shape: []int{}, Data: nil}}, `tensor "a": shape [] needs 1 values, Data has 0`},
		{[]Tensor{{Name: "a", Shape: []int{-1}, Data: nil}}, `tensor "a": negative dimension`},
		{[]Tensor{{Name: "", Shape: []int{1}, Data: []float32{1}}}, `empty name`},
		{[]Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, `reserved`},
	} {
		var buf bytes.Buffer
		err := Write(&buf, c.ts, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%d bytes written before the error", buf.Len())
		}
	}
}

func TestSafetensorsCorrupt(t *testing.T) {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	hugeLen := binary.LittleEndian.AppendUint64(nil, 200<<20)
	hugeLen = append(hugeLen, "{}"...)
	for _, c := range []struct {
		name   string
		file   []byte
		tensor string // named in the error, if any
		want   string
		eof    bool // a truncation: matches io.ErrUnexpectedEOF
	}{
		{"empty file", nil, "", "header length", true},
		{"short length", []byte{1, 0, 0}, "", "header length", true},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 1000), "{}"...), "", "header is 2 bytes, want 1000", true},
		{"header over limit", hugeLen, "", "over the 104857600 limit", false},
		{"header length zero", ckptFile("", nil), "", "too short", false},
		{"invalid JSON", ckptFile(`{"a":`, nil), "", "invalid JSON", false},
		{"not an object", ckptFile(`[1, 2]`, nil), "", "not a JSON object", false},
		{"garbage after object", ckptFile(`{} x`, nil), "", "invalid JSON", false},
		{"entry not an object", ckptFile(`{"a":[1]}`, nil), "a", "bad header entry", false},
		{"unknown dtype", ckptFile(`{"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), "a", `unsupported dtype "I32"`, false},
		{"no dtype", ckptFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, f32(1)), "a", "no dtype", false},
		{"no shape", ckptFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32(1)), "a", "no shape", false},
		{"negative dim", ckptFile(`{"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}`, f32(1)), "a", "negative dimension", false},
		{"fractional dim", ckptFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32(1)), "a", "bad header entry", false},
		{"huge dims", ckptFile(`{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}`, f32(1)), "a", "too many elements", false},
		{"huge dim times zero", ckptFile(`{"a":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}}`, nil), "a", "too many elements", false},
		{"one offset", ckptFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, f32(1)), "a", "want [begin, end]", false},
		{"reversed offsets", ckptFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, f32(2)), "a", "not a range", false},
		{"negative offset", ckptFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32(1)), "a", "not a range", false},
		{"offsets mismatch shape", ckptFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, f32(2)), "a", "span 8 bytes, shape [3] of F32 needs 12", false},
		{"overlap", ckptFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, f32(3)), "b", `overlap tensor "a"`, false},
		{"hole", ckptFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32(3)), "b", "hole", false},
		{"hole at start", ckptFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), "a", "hole", false},
		{"offsets past data", ckptFile(`{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}`, f32(2)), "", "data section is 8 bytes, want 400", true},
		{"huge offsets", ckptFile(`{"a":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`, f32(2)), "", "data section is 8 bytes, want 1073741824", true},
		{"trailing bytes", ckptFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)), "", "after the data section", false},
		{"duplicate name", ckptFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), "a", "twice", false},
		{"metadata not strings", ckptFile(`{"__metadata__":{"k":1}}`, nil), "", "__metadata__ is not an object of strings", false},
		{"metadata null", ckptFile(`{"__metadata__":null}`, nil), "", "__metadata__ is not an object of strings", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, errR := Read(bytes.NewReader(c.file), path)
			_, _, errL := Load(path)
			for _, err := range []error{errR, errL} {
				if err == nil {
					t.Fatal("no error")
				}
				msg := err.Error()
				if !strings.Contains(msg, path) || !strings.Contains(msg, c.want) ||
					c.tensor != "" && !strings.Contains(msg, `tensor "`+c.tensor+`"`) {
					t.Errorf("error %q: want the file, tensor %q and %q", msg, c.tensor, c.want)
				}
				if !errors.Is(err, ErrBad) {
					t.Errorf("error %q does not match ErrBad", msg)
				}
				if errors.Is(err, io.ErrUnexpectedEOF) != c.eof {
					t.Errorf("error %q: errors.Is(io.ErrUnexpectedEOF) = %v", msg, !c.eof)
				}
			}
		})
	}
}

// TestSafetensorsTruncated cuts a small checkpoint at every offset.
func TestSafetensorsTruncated(t *testing.T) {
	b := ckptWrite(t, ckptSample(), map[string]string{"k": "v"})
	path := filepath.Join(t.TempDir(), "cut.safetensors")
	for k := 0; k < len(b); k++ {
		_, _, err := Read(bytes.NewReader(b[:k]), "cut")
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrBad) {
			t.Fatalf("cut at %d of %d: got %v, want a truncation error", k, len(b), err)
		}
		if err := os.WriteFile(path, b[:k], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Load(path); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("file cut at %d of %d: got %v, want a truncation error", k, len(b), err)
		}
	}
}

func TestLoadSafetensorsMissing(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.safetensors"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
}

func TestCheckTensors(t *testing.T) {
	mk := func(name string, shape ...int) Tensor {
		return Tensor{Name: name, Shape: shape, Data: make([]float32, product(shape))}
	}
	want := []Tensor{mk("x", 2), mk("z", 4, 3), mk("s")}
	if err := Check([]Tensor{mk("s"), mk("z", 4, 3), mk("x", 2)}, want); err != nil {
		t.Errorf("matching tensors: %v", err)
	}
	err := Check([]Tensor{mk("z", 3, 4), mk("y", 1), mk("s")}, want)
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{`missing "x"`, `unexpected "y"`, `"z" has shape [3 4], model wants [4 3]`, "3 problems"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	// Many problems: only the first few are listed.
	var many []Tensor
	for i := 0; i < 20; i++ {
		many = append(many, mk(strings.Repeat("w", i+1), 1))
	}
	err = Check(nil, many)
	if err == nil || !strings.Contains(err.Error(), "and 15 more") || strings.Count(err.Error(), "missing") != 5 {
		t.Errorf("got %v, want five problems and a count of the rest", err)
	}
	// Inconsistent tensors are reported too.
	err = Check([]Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1}}, mk("x", 2)}, want[:1])
	if err == nil || !strings.Contains(err.Error(), `"x" has 1 values for shape [2]`) || !strings.Contains(err.Error(), `"x" appears twice`) {
		t.Errorf("got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, ckptSample(), map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(ckptFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[],"data_offsets":[4,6]}}`, []byte{0, 0x3c, 0, 0xfc, 0xc0, 0x3f}))
	f.Add(ckptFile(`{"a":{"dtype":"F64","shape":[1,1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, meta, err := Read(bytes.NewReader(b), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrBad) {
				t.Fatalf("error %v is not ErrBad", err)
			}
			return
		}
		for _, x := range ts {
			if product(x.Shape) != len(x.Data) {
				t.Fatalf("tensor %q: shape %v with %d values", x.Name, x.Shape, len(x.Data))
			}
		}
		var out bytes.Buffer
		if err := Write(&out, ts, meta); err != nil {
			t.Fatalf("re-writing: %v", err)
		}
		ts2, meta2, err := Read(bytes.NewReader(out.Bytes()), "fuzz2")
		if err != nil {
			t.Fatalf("re-reading: %v", err)
		}
		ckptEqual(t, ts2, ts)
		if !maps.Equal(meta, meta2) {
			t.Fatalf("metadata %v became %v", meta, meta2)
		}
	})
}

// TestFloat16Write: every half-precision value converts to float32 and
// back to itself; float32s round to the nearest half (ties to even), and a
// checkpoint written as F16 reads back within half precision.
func TestFloat16Write(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := float16ToFloat32(uint16(h))
		if f != f {
			if g := float32ToFloat16(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x -> %#04x", h, g)
			}
			continue
		}
		if g := float32ToFloat16(f); g != uint16(h) {
			t.Fatalf("half %#04x -> %g -> %#04x", h, f, g)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00},
		{1 + 1.0/2048, 0x3c00},           // tie, to even
		{1 + 3.0/2048, 0x3c02},           // tie, to even (up)
		{float32(math.Ldexp(1, -24)), 1}, // smallest subnormal
		{float32(math.Ldexp(1, -26)), 0}, // rounds to zero
		{0.1, 0x2e66},
	} {
		if got := float32ToFloat16(c.f); got != c.want {
			t.Errorf("%g -> %#04x, want %#04x", c.f, got, c.want)
		}
	}
	rng := rand.New(rand.NewSource(1))
	d := make([]float32, 1000)
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	var buf bytes.Buffer
	if err := WriteAs(&buf, []Tensor{{Name: "w", Shape: []int{1000}, Data: d}}, nil, "F16"); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 2*1000+200 {
		t.Fatalf("F16 file of %d bytes for 1000 values", buf.Len())
	}
	ts, _, err := Read(bytes.NewReader(buf.Bytes()), "f16")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range ts[0].Data {
		if math.Abs(float64(v-d[i])) > math.Abs(float64(d[i]))/1024+1e-7 {
			t.Fatalf("value %d: %g read back as %g", i, d[i], v)
		}
	}
	if err := WriteAs(&buf, nil, nil, "BF16"); err == nil {
		t.Error("BF16 writing: no error")
	}
}
