package t2tbeam

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"t2t"
	"t2t/pcapio"
)

// Benchmarks read ../shared/data when present (never committed) and skip
// cleanly without it:
//
//	cd beam && go test -run - -bench . -benchtime 1x
//
// BenchmarkEncode*: packets/s of the encode pipeline on Prism with 1 and
// 2 workers (GOMAXPROCS of the in-process loopback worker) against
// examples/nprint run file by file, for nPrint's -4 -6 -t -u -i -R -O 4.
// BenchmarkGenerate: flows/s of 2 classes x T2T_BENCH_FLOWS flows
// (default 10; the README's figure is 100) against examples/synthesize.
// BenchmarkOverhead: what Beam on Prism adds per job, per element and per
// stage (bundle).

const (
	seed42 = "../../shared/data/captures-seed42"
	zeek   = "../../shared/data/public/zeek+zeek"
)

var benchArgs = []string{"-4", "-6", "-t", "-u", "-i", "-R", "-O", "4"}

func benchOpts(in, out string) EncodeOptions {
	return EncodeOptions{Inputs: []string{in}, Out: out, Shards: 4,
		Spec: t2t.LayoutSpec{IPv4: true, IPv6: true, TCP: true, UDP: true, ICMP: true},
		CSV:  t2t.CSVOptions{Key: t2t.KeyKind(4), Time: t2t.TimeRelative}, Enc: t2t.EncoderOptions{ZeroSnappedPayload: true}}
}

// captures lists the capture files under dir (what encode reads).
func captures(b *testing.B, dir string) []string {
	if _, err := os.Stat(dir); err != nil {
		b.Skipf("%s not present", dir)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && pcapio.IsCaptureFile(p) {
			files = append(files, p)
		}
		return err
	})
	return files
}

func benchEncode(b *testing.B, dir string) {
	files := captures(b, dir)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("beam-prism-workers=%d", workers), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
			packets := 0
			var cpu time.Duration
			for b.Loop() {
				out := b.TempDir()
				c0 := cpuTime()
				runPrism(b, func(s beam.Scope) error { return Encode(s, benchOpts(dir, out)) })
				cpu += cpuTime() - c0
				m := readManifestB(b, out)
				packets += m.Packets
				b.ReportMetric(float64(len(m.Bad)), "bad-files")
			}
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
			b.ReportMetric(float64(packets)/cpu.Seconds(), "packets/cpu-s")
		})
	}
	b.Run("nprint-file-by-file", func(b *testing.B) {
		bin := nprint(b)
		var ok []string // the files nprint reads: it stops at a bad one, as the pipeline counts it
		packets := 0
		tmp := b.TempDir()
		for _, f := range files {
			if exec.Command(bin, append([]string{"-P", f, "-W", filepath.Join(tmp, "x.csv")}, benchArgs...)...).Run() != nil {
				continue
			}
			r, err := pcapio.Open(f)
			if err != nil {
				continue
			}
			ps, err := r.ReadAll()
			r.Close()
			if err == nil {
				ok = append(ok, f)
				packets += len(ps)
			}
		}
		var cpu time.Duration
		for b.Loop() {
			out := b.TempDir()
			for i, f := range ok {
				cmd := exec.Command(bin, append([]string{"-P", f, "-W", filepath.Join(out, fmt.Sprint(i, ".csv"))}, benchArgs...)...)
				if err := cmd.Run(); err != nil {
					b.Fatalf("nprint -P %s: %v", f, err)
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
		}
		b.ReportMetric(float64(packets*b.N)/b.Elapsed().Seconds(), "packets/s")
		b.ReportMetric(float64(packets*b.N)/cpu.Seconds(), "packets/cpu-s")
		b.ReportMetric(float64(len(files)-len(ok)), "bad-files")
	})
}

// cpuTime is the CPU time of this process so far (the loopback worker
// and Prism run in it).
func cpuTime() time.Duration {
	var ru syscallRusage
	getrusage(&ru)
	return ru.total()
}

func readManifestB(b *testing.B, dir string) EncodeManifest {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		b.Fatal(err)
	}
	var m EncodeManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkEncodeSeed42(b *testing.B) { benchEncode(b, seed42) }
func BenchmarkEncodeZeek(b *testing.B)   { benchEncode(b, zeek) }

// BenchmarkGenerate: 2 classes x n flows on Prism, 1 and 2 workers,
// against examples/synthesize (-classes, the same steps and seed).
func BenchmarkGenerate(b *testing.B) {
	n := 10
	if s := os.Getenv("T2T_BENCH_FLOWS"); s != "" {
		fmt.Sscan(s, &n)
	}
	opt := GenerateOptions{Requests: []Request{{"dns", n}, {"ssh", n}}, Seed: 1, Steps: 4, Guidance: 2, Batch: 10}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("beam-prism-workers=%d", workers), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
			packets := 0
			for b.Loop() {
				o := opt
				o.Out = b.TempDir()
				runPrism(b, func(s beam.Scope) error { return Generate(s, o) })
				packets += pcapPackets(b, o.Out)
			}
			b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
		})
	}
	b.Run("synthesize", func(b *testing.B) {
		bin := filepath.Join(b.TempDir(), "synthesize")
		cmd := exec.Command("go", "build", "-o", bin, "./examples/synthesize")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		var took time.Duration
		packets := 0
		for b.Loop() {
			t0 := time.Now()
			out := b.TempDir()
			cmd := exec.Command(bin, "-classes", "dns,ssh", "-n", fmt.Sprint(n), "-steps", "4", "-seed", "1", "-out", out, "-q")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
			took += time.Since(t0)
			packets += pcapPackets(b, out)
		}
		b.ReportMetric(float64(2*n*b.N)/took.Seconds(), "flows/s")
		b.ReportMetric(float64(packets)/took.Seconds(), "packets/s")
	})
}

// pcapPackets counts the packets of the pcaps under dir.
func pcapPackets(b *testing.B, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && pcapio.IsCaptureFile(p) {
			r, err := pcapio.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			ps, err := r.ReadAll()
			r.Close()
			if err != nil {
				b.Fatal(err)
			}
			n += len(ps)
		}
		return err
	})
	return n
}

func init() {
	register.Function2x0[int, func(int)](passFn)
	register.Emitter1[int]()
}

func passFn(x int, emit func(int)) { emit(x) }

// BenchmarkOverhead: a job of E int elements through S stages (a ParDo
// after a Reshuffle each: at least one bundle per stage). The slopes are
// Beam's cost per element and per stage, the intercept per job.
func BenchmarkOverhead(b *testing.B) {
	for _, c := range []struct{ elements, stages int }{{1, 1}, {10000, 1}, {100000, 1}, {1, 8}} {
		b.Run(fmt.Sprintf("elements=%d/stages=%d", c.elements, c.stages), func(b *testing.B) {
			xs := make([]int, c.elements)
			for b.Loop() {
				p, s := beam.NewPipelineWithRoot()
				col := beam.CreateList(s, xs)
				for range c.stages {
					col = beam.ParDo(s, passFn, beam.Reshuffle(s, col))
				}
				if _, err := prism.Execute(context.Background(), p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/job")
		})
	}
}
