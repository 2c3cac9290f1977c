package repair

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"t2t"
)

// fuzzMatrix builds a NetDiffusion matrix from fuzz bytes: data[0] holds
// the number of rows (1 + its low 5 bits), the rest 4 cells a byte, 2 bits
// a cell (0: -1, 1: 0, 2: 1, 3: -1) row after row; cells past the data
// are vacant.
func fuzzMatrix(data []byte) *t2t.Matrix {
	rows := 1
	if len(data) > 0 {
		rows += int(data[0] & 31)
		data = data[1:]
	}
	m := t2t.NewMatrix(ndLayout, rows)
	for k := range m.Bits {
		if k/4 >= len(data) {
			break
		}
		if c := data[k/4] >> (2 * (k % 4)) & 3; c < 3 {
			m.Bits[k] = int8(c) - 1
		}
	}
	return m
}

// fuzzBytes is the inverse of fuzzMatrix (for seeds).
func fuzzBytes(m *t2t.Matrix) []byte {
	out := make([]byte, 1+(len(m.Bits)+3)/4)
	out[0] = byte(m.Rows-1) & 31
	for k, v := range m.Bits {
		out[1+k/4] |= byte(v+1) << (2 * (k % 4))
	}
	return out
}

var fuzzProfile = sync.OnceValues(func() (*Profile, []string) {
	flows, err := loadCommitted()
	if err != nil {
		panic(err)
	}
	var classes []string
	for c := range flows {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	return BuildProfile(flows), classes
})

// FuzzFlow: any ternary matrix repairs without panic into packets that
// are Ethernet frames with valid checksums and monotone times, or gives
// ErrEmpty. opt picks the class (low 3 bits, 7: no profile), random
// payload (bit 3) and RecomputeChecksums (bit 4).
func FuzzFlow(f *testing.F) {
	f.Add(byte(0), []byte{})
	f.Add(byte(0x1f), []byte{3, 0x55, 0xaa, 0x99})
	prof, classes := fuzzProfile()
	f.Fuzz(func(t *testing.T, opt byte, data []byte) {
		m := fuzzMatrix(data)
		p, class := prof, ""
		if k := int(opt & 7); k < len(classes) {
			class = classes[k]
		} else {
			p = nil
		}
		opts := Options{FlowIndex: int(opt >> 5), RecomputeChecksums: opt&16 != 0}
		if opt&8 != 0 {
			opts.Payload = PayloadRandom
		}
		res, err := Flow(m, class, p, opts, newRand(int64(opt)))
		if err != nil {
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(res.Packets) == 0 {
			t.Fatal("no packets and no error")
		}
		for i, pk := range res.Packets {
			if pk.Link != t2t.LinkEthernet || len(pk.Data) < 14+20 || pk.OrigLen != len(pk.Data) {
				t.Fatalf("packet %d: link %v, %d bytes, orig %d", i, pk.Link, len(pk.Data), pk.OrigLen)
			}
			if !t2t.ChecksumsValid(pk.Data[14:]) {
				t.Fatalf("packet %d: invalid checksum: % x", i, pk.Data)
			}
			if info, err := t2t.ParseInfo(pk.Link, pk.Data); err != nil || info.TransOff < 0 || info.Proto != res.Proto {
				t.Fatalf("packet %d does not parse as %d: %+v %v", i, res.Proto, info, err)
			}
			if pk.Time.IsZero() || i > 0 && pk.Time.Before(res.Packets[i-1].Time) {
				t.Fatalf("packet %d: time %v after %v", i, pk.Time, res.Packets[i-1].Time)
			}
		}
	})
}

// TestWriteFuzzFlowSeeds writes the seed corpus of FuzzFlow from real
// flows of the committed captures (run with T2T_WRITE_FUZZ_SEEDS=1).
func TestWriteFuzzFlowSeeds(t *testing.T) {
	if os.Getenv("T2T_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set T2T_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz/FuzzFlow")
	}
	_, classes := fuzzProfile()
	flows := committed(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzFlow")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, class := range classes {
		f := flows[class][0]
		m := encode(t, f).Resize(min(32, len(f.Packets)))
		data := fuzzBytes(m)
		// the same flow with every 50th cell made vacant
		noisy := append([]byte(nil), data...)
		for i := 1; i < len(noisy); i += 50 {
			noisy[i] |= 3
		}
		for name, d := range map[string][]byte{class: data, class + "-noisy": noisy} {
			body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", rune(k), d)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
