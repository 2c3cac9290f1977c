package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"t2t"
	"t2t/dataset"
	"t2t/internal/cli"
	"t2t/pcapio"
)

// TestSubset keeps at most -flows flows of at most -packets packets per
// class, spread over the capture.
func TestSubset(t *testing.T) {
	out := t.TempDir()
	if err := run([]string{"-data", "../../testdata/captures", "-flows", "3", "-packets", "5", "-out", out}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.pcap"))
	if len(files) != 7 {
		t.Fatalf("%d class files, want 7", len(files))
	}
	for _, f := range files {
		flows, _, err := pcapio.AssembleFile(f, pcapio.FlowOptions{IdleTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(flows) == 0 || len(flows) > 3 {
			t.Errorf("%s: %d flows, want 1 to 3", f, len(flows))
		}
		for _, fl := range flows {
			if len(fl.Packets) > 5 || len(fl.Packets) < 2 {
				t.Errorf("%s: flow of %d packets", f, len(fl.Packets))
			}
		}
	}
	if err := run([]string{"-data", "../../testdata/captures"}, io.Discard, io.Discard); err == nil {
		t.Error("no -out: no error")
	}
}

// writeLabels writes a flow-label file labelling, of each capture of
// testdata/captures, its first flows "Even" or "Odd" by their index, and
// returns its path.
func writeLabels(t *testing.T) string {
	t.Helper()
	paths, _ := filepath.Glob("../../testdata/captures/*.pcap")
	var rows []dataset.FlowLabel
	for _, p := range paths {
		flows, _, err := pcapio.AssembleFile(p, pcapio.FlowOptions{IdleTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range flows[:min(len(flows), 6)] {
			if f.Key.Proto == t2t.ProtoICMP {
				continue
			}
			app := []string{"Even", "Odd"}[i%2]
			rows = append(rows, dataset.FlowLabel{Pcap: filepath.Base(p), FlowNo: i + 1, Proto: f.Key.Proto, Src: f.Key.A, Dst: f.Key.B, NDPIProto: app, App: app, Category: "Web"})
		}
	}
	var b bytes.Buffer
	if err := dataset.WriteFlowLabels(&b, rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "labels.tsv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSubsetLabels: -labels lays out train/<class>/ and test/<class>/
// folders that load as data sets, prints the summary, and refuses to
// write over a non-empty -out.
func TestSubsetLabels(t *testing.T) {
	labels := writeLabels(t)
	out := filepath.Join(t.TempDir(), "ndpi")
	args := []string{"-labels", labels, "-captures", "../../testdata/captures", "-min-flows", "2", "-out", out}
	var stdout bytes.Buffer
	if err := run(args, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "even") || !strings.Contains(stdout.String(), "total (2 classes)") {
		t.Errorf("summary:\n%s", stdout.String())
	}
	for _, split := range []string{"train", "test"} {
		ds, err := pcapio.LoadDataset(filepath.Join(out, split), pcapio.FlowOptions{})
		if err != nil || !slices.Equal(ds.Classes, []string{"even", "odd"}) {
			t.Fatalf("%s: %v, %v", split, ds, err)
		}
	}
	if err := run(args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("-out not empty: %v", err)
	}
}

// TestSubsetModes: a flag of one mode is refused in the other (a usage
// error, exit status 2), as are bad -labels values.
func TestSubsetModes(t *testing.T) {
	labels := writeLabels(t)
	out := filepath.Join(t.TempDir(), "o")
	lab := []string{"-labels", labels, "-captures", "../../testdata/captures", "-out", out}
	dat := []string{"-data", "../../testdata/captures", "-out", out}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(slices.Clone(lab), "-data", "x"), "-data is for subsetting -data"},
		{append(slices.Clone(lab), "-flows", "3"), "-flows is for subsetting -data"},
		{append(slices.Clone(lab), "-rest", "r"), "-rest is for subsetting -data"},
		{append(slices.Clone(lab), "-min-packets", "3"), "-min-packets is for subsetting -data"},
		{append(slices.Clone(dat), "-captures", "x"), "-captures works with -labels only"},
		{append(slices.Clone(dat), "-classes", "3"), "-classes works with -labels only"},
		{append(slices.Clone(dat), "-drop", "Unknown"), "-drop works with -labels only"},
		{append(slices.Clone(dat), "-seed", "2"), "-seed works with -labels only"},
		{append(slices.Clone(lab), "-label", "pcap"), `-label "pcap"`},
		{append(slices.Clone(lab), "-share", "1"), "-share 1"},
		{append(slices.Clone(lab), "-packets", "0"), "-packets 0"},
		{append(slices.Clone(lab), "-max-flows", "1"), "-max-flows 1"},
		{append(slices.Clone(lab), "-classes", "-1"), "-classes -1"},
		{[]string{"-labels", labels, "-out", out}, "-captures is required"},
		{[]string{"-labels", labels, "-captures", "../../testdata/captures"}, "-out is required"},
	} {
		err := run(c.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) || cli.ExitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error saying %q", c.args, err, cli.ExitCode(err), c.want)
		}
	}
	for _, args := range [][]string{
		{"-labels", labels, "-captures", "../../testdata/captures", "-out", "../../testdata/captures/o"},
		{"-labels", "no-such.tsv", "-captures", "../../testdata/captures", "-out", out},
	} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("refused runs left %s: %v", out, err)
	}
}
