package t2t_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"t2t"
)

// TestCSVReadWrite reads every committed nPrint reference and writes it
// back: the bytes must be identical, so the reader keeps keys, times and
// every bit. (f6 has no vacant bits, -F 0 wrote them as 0; f7 lacks the
// fields -x took out, which the reader takes as a layout without them.)
func TestCSVReadWrite(t *testing.T) {
	files, _ := filepath.Glob("testdata/nprint/captures/*.nprint.gz")
	if len(files) != 63 {
		t.Fatalf("found %d references, want 63 (7 captures, f1 to f9)", len(files))
	}
	for _, f := range files {
		want := readGz(t, f)
		r, err := t2t.NewCSVReader(bytes.NewReader(want), f)
		if err != nil {
			t.Fatal(err)
		}
		var o t2t.CSVOptions
		o.Time = r.Time()
		for k := t2t.KeySrcIP; k <= t2t.KeyFlow; k++ {
			if k.Name() == r.KeyName() {
				o.Key = k
			}
		}
		var out bytes.Buffer
		w := t2t.NewCSVWriter(&out, r.Layout(), o)
		rows := 0
		for {
			row, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteRow([]byte(row.Key), row.Time, row.Bits); err != nil {
				t.Fatal(err)
			}
			rows++
		}
		w.Flush()
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("%s: rewritten CSV differs: %s", f, firstDiff(out.Bytes(), want))
		}
		want200 := 200
		if strings.Contains(f, ".f8.") {
			want200 = 100 // --count=100
		}
		if rows != want200 {
			t.Errorf("%s: %d rows, want %d", f, rows, want200)
		}
	}
}

// TestCSVNetDiffusion reads a file shaped like NetDiffusion's: 1409
// columns (a key and the 1408 bits of -4 -6 -t -u -i), values written as
// floats.
func TestCSVNetDiffusion(t *testing.T) {
	src := readGz(t, "testdata/nprint/captures/ssh-200.f1.nprint.gz")
	lines := strings.Split(strings.TrimSpace(string(src)), "\n")
	var b strings.Builder
	b.WriteString(strings.Replace(lines[0], "src_ip", "Unnamed: 0", 1) + "\n")
	for _, l := range lines[1:] {
		c := strings.Split(l, ",")
		for i := 1; i < len(c); i++ {
			c[i] += ".0"
		}
		b.WriteString(strings.Join(c, ",") + "\n")
	}
	m, keys, err := t2t.ReadCSV(strings.NewReader(b.String()), "nd.csv")
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := t2t.ReadCSV(bytes.NewReader(src), "ref")
	if err != nil {
		t.Fatal(err)
	}
	if m.Cols != 1408 || m.Rows != 200 || !bytes.Equal(int8Bytes(m.Bits), int8Bytes(ref.Bits)) || keys[0] != strings.Split(lines[1], ",")[0] {
		t.Fatalf("NetDiffusion-style CSV read as %dx%d, differs from reference", m.Rows, m.Cols)
	}
}

func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func TestCSVErrors(t *testing.T) {
	hdr := "src_ip,rts,ipv4_ver_0,ipv4_ver_1,ipv4_ver_2,ipv4_hl_0,ipv4_hl_1,ipv4_hl_2,ipv4_hl_3"
	// a whole ipv4 block is needed for a layout: build a valid header
	ref := readGz(t, "testdata/nprint/captures/dns-200.f2.nprint.gz")
	lines := strings.Split(string(ref), "\n")
	head, row := lines[0], lines[1]
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "empty file"},
		{"bad header", hdr + "\n", "ipv4"},
		{"unknown field", "src_ip,foo_0\n", "no nPrint bit columns"},
		{"ragged short", head + "\n" + row[:len(row)-4] + "\n", "f.csv:2: "},
		{"ragged long", head + "\n" + row + ",1\n", "f.csv:2: more columns"},
		{"non numeric", head + "\n" + strings.Replace(row, ",0,", ",x,", 1) + "\n", "f.csv:2: column"},
		{"bad value", head + "\n" + row[:len(row)-3] + ",2\n", "is not 1, 0 or -1"},
		{"bad rts", head + "\n" + strings.Replace(row, "10.77.0.2,0,", "10.77.0.2,1.5,", 1) + "\n", "rts"},
		{"third line", head + "\n" + row + "\n" + strings.Replace(row, ",1,", ",-2,", 1) + "\n", "f.csv:3: column"},
	}
	for _, c := range cases {
		_, _, err := t2t.ReadCSV(strings.NewReader(c.in), "f.csv")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, _, err := t2t.ReadCSV(strings.NewReader(head+"\n"+row+"\n"), "f.csv"); err != nil {
		t.Errorf("valid file: %v", err)
	}
	var e error = io.EOF
	_ = errors.Is(e, io.EOF)
}

// TestCSVWriterOptions: Fill replaces -1 (with any int8, as nPrint's -F
// does), Omit leaves columns out of the header and the rows but keeps the
// key and time columns, KeyHeader replaces the key's name, and a value out
// of range is an error even in a column left out.
func TestCSVWriterOptions(t *testing.T) {
	l := t2t.LayoutSpec{UDP: true}.MustLayout() // udp_sport, udp_dport, udp_len, udp_cksum: 64 columns
	row := make([]int8, l.Width())
	for i := range row {
		row[i] = int8(i%3) - 1 // -1, 0, 1, -1, ...
	}
	var out bytes.Buffer
	w := t2t.NewCSVWriter(&out, l, t2t.CSVOptions{Time: t2t.TimeRelative})
	w.Fill = -7
	w.Omit = func(c string) bool { return !strings.HasPrefix(c, "udp_len_") || c == "udp_len_0" }
	w.KeyHeader = "a,b"
	if err := w.WriteRow([]byte("x,y"), time.Unix(5, 0), row); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("a,b,rts")
	for i := 1; i < 16; i++ {
		fmt.Fprintf(&want, ",udp_len_%d", i)
	}
	want.WriteString("\nx,y,0")
	for i := 33; i < 48; i++ {
		fmt.Fprintf(&want, ",%d", []int{-7, 0, 1}[i%3])
	}
	want.WriteString("\n")
	if out.String() != want.String() {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want.String())
	}
	row[0] = 2 // udp_sport_0, left out
	if err := w.WriteRow([]byte("x,y"), time.Unix(5, 0), row); err == nil || !strings.Contains(err.Error(), "column 0") {
		t.Fatalf("value 2 in a column left out: %v", err)
	}
}
