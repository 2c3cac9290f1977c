package pipeline

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"t2t/models"
	"t2t/sampler"
)

var update = flag.Bool("update", false, "rewrite testdata/generate.golden")

// goldenCases are generations of the embedded model with
// examples/generate's defaults (dpm++2m, guidance 2, batch 8, the class's
// transport mix, templates), named as in testdata/generate.golden.
var goldenCases = []struct {
	name, prompt, payload, transport string
	n, steps                         int
	seed                             uint64
}{
	{"dns-random", "dns", "random", "mix", 6, 4, 7},
	{"ssh-random", "ssh", "random", "mix", 6, 4, 7},
	{"http-snap", "http", "snap", "mix", 6, 4, 3},
	{"icmp-snap", "icmp", "snap", "mix", 6, 4, 3},
	{"dns-tcp", "dns", "zeros", "tcp", 5, 3, 2},
}

// TestGenerateGolden: Generate writes, for fixed seeds, pcaps whose
// SHA-256 are those recorded in testdata/generate.golden, so that a
// refactoring (SampleFlows split out of Generate) changes no byte. The
// hashes were made by examples/generate before that split; retraining the
// embedded model or changing repair changes them (rewrite with -update).
func TestGenerateGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the Small model")
	}
	f, err := models.Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	if !*update {
		g, err := os.Open("testdata/generate.golden")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(g)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), " "); ok {
				want[k] = v
			}
		}
		g.Close()
	}
	var lines []string
	for _, c := range goldenCases {
		s, err := sampler.New("dpm++2m", f.Model.Noise)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Generate(context.Background(), f.Model, c.prompt, Options{
			SampleOptions: SampleOptions{N: c.n, Steps: c.steps, Scheduler: s, Guidance: 2, Seed: c.seed, Batch: 8},
			Profile:       f.Profile, Templates: f.Templates, Payload: c.payload, Transport: c.transport})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), c.name+".pcap")
		if err := WritePcap(path, out.Packets); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		got := hex.EncodeToString(sum[:])
		lines = append(lines, fmt.Sprintf("%s %s", c.name, got))
		if !*update && got != want[c.name] {
			t.Errorf("%s: pcap of %d bytes has SHA-256 %s, want %s", c.name, len(b), got, want[c.name])
		}
	}
	if *update {
		if err := os.WriteFile("testdata/generate.golden", []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
