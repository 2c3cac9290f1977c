package t2t

import (
	"bufio"
	"os"
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
