package t2t

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func TestNetDiffusionColumns(t *testing.T) {
	f, err := os.Open("testdata/nd_image_columns_1088.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	l := NetDiffusionSpec.MustLayout()
	got := l.Columns()
	if len(got) != 1088 || len(want) != 1088 {
		t.Fatalf("got %d columns, reference %d, want 1088", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("column %d: got %s, want %s", i, got[i], want[i])
		}
	}
	l2, err := LayoutFromColumns(want)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Width() != 1088 || l2.String() != l.String() {
		t.Fatalf("LayoutFromColumns: %v, want %v", l2, l)
	}
}

func TestLayoutErrors(t *testing.T) {
	if _, err := (LayoutSpec{}).Layout(); err == nil {
		t.Error("empty spec: no error")
	}
	if _, err := (LayoutSpec{IPv4: true, Drop: []string{"ipv4_nope"}}).Layout(); err == nil {
		t.Error("unknown drop: no error")
	}
	if _, err := LayoutFromColumns([]string{"ipv4_ver_0"}); err == nil {
		t.Error("partial field: no error")
	}
}

// TestLayoutForWidth: the known widths give their layouts (the 1088
// columns are NetDiffusion's image columns), a payload spec is matched by
// its own width, and another width is an error naming it and the widths
// accepted.
func TestLayoutForWidth(t *testing.T) {
	for _, c := range []struct {
		width int
		want  LayoutSpec
	}{{1088, NetDiffusionSpec}, {1408, NPrintSpec}, {1520, KnownSpecs[2]}} {
		l, err := LayoutForWidth(c.width)
		if err != nil {
			t.Fatal(err)
		}
		if want := c.want.MustLayout(); l.Width() != c.width || l.String() != want.String() {
			t.Errorf("width %d: %v, want %v", c.width, l, want)
		}
	}
	if l, _ := LayoutForWidth(1088); l.Has(BlockEth) || !l.Has(BlockICMP) {
		t.Errorf("1088: %v", l)
	}
	if l, _ := LayoutForWidth(1520); !l.Has(BlockEth) {
		t.Errorf("1520 has no Ethernet block: %v", l)
	}
	nd16 := NetDiffusionSpec
	nd16.Payload = 16
	if l, err := LayoutForWidth(1088+128, nd16); err != nil || l.PayloadBytes() != 16 {
		t.Errorf("payload spec: %v, %v", l, err)
	}
	if _, err := LayoutForWidth(1088, nd16); err == nil {
		t.Error("1088 against a spec of 1216 columns: no error")
	}
	_, err := LayoutForWidth(1000)
	if err == nil {
		t.Fatal("width 1000: no error")
	}
	for _, s := range []string{"1000", "1088", "1408", "1520"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %s", err, s)
		}
	}
}
