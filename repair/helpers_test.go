package repair

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"t2t"
	"t2t/pcapio"
)

var ndLayout = t2t.NetDiffusionSpec.MustLayout()

// committed loads the flows of the 7 committed captures by class.
func committed(t testing.TB) map[string][]*pcapio.Flow {
	t.Helper()
	out, err := loadCommitted()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func loadCommitted() (map[string][]*pcapio.Flow, error) {
	files, err := filepath.Glob("../testdata/captures/*-200.pcap")
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no committed captures: %v", err)
	}
	out := map[string][]*pcapio.Flow{}
	for _, f := range files {
		fl, _, err := pcapio.AssembleFile(f, pcapio.FlowOptions{})
		if err != nil {
			return nil, err
		}
		class := strings.TrimSuffix(filepath.Base(f), "-200.pcap")
		out[class] = fl
	}
	return out, nil
}

// seed42 loads the shared 14-class data set, or skips.
func seed42(t testing.TB) map[string][]*pcapio.Flow {
	t.Helper()
	dir := "../../shared/data/captures-seed42"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("shared captures absent")
	}
	ds, err := pcapio.LoadDataset(dir, pcapio.FlowOptions{MaxPackets: 64})
	if err != nil {
		t.Fatal(err)
	}
	return ds.Flows
}

// encode turns a flow into a NetDiffusion matrix with times.
func encode(t testing.TB, f *pcapio.Flow) *t2t.Matrix {
	t.Helper()
	m := t2t.NewMatrix(ndLayout, 0)
	enc := t2t.NewEncoder(ndLayout, t2t.EncoderOptions{})
	for _, p := range f.Packets {
		if _, err := enc.Append(m, p.Link, p.Data, p.Time); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// own returns Options that give the flow its own addresses.
func own(f *pcapio.Flow) Options {
	srv := f.Key.A
	if srv == f.Src {
		srv = f.Key.B
	}
	return Options{Client: f.Src.Addr(), Server: srv.Addr()}
}

func hasFragment(f *pcapio.Flow) bool {
	for _, p := range f.Packets {
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err == nil && info.Version == 4 && p.Data[info.NetOff+6]&0x20 != 0 {
			return true
		}
	}
	return false
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0)) }
