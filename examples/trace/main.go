// Command trace generates a trace: flows of several classes from a t2t
// model (the embedded one unless -model), between a pool of client hosts
// and one server per class, each flow starting when the class's real
// arrival process says (t2t/trace), merged in time and written as one pcap.
//
// Each class's flow start times are drawn from the arrival process learned
// from real captures (the embedded model's, testdata/train, unless
// -arrivals), scaled so that the class's share of -flows fills -span; each
// flow draws a client from the pool, takes a client port from the class's
// real range (a new one while its 5-tuple is taken), and is repaired into
// a valid flow between those hosts. A host keeps one MAC throughout.
//
//	trace -classes dns,http,ssh,ntp,icmp -flows 1000 -span 60s -seed 1 -out trace.pcap
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"t2t"
	"t2t/internal/cli"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/sampler"
	"t2t/trace"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cli.Main("trace", run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

var command = cli.Command{
	Name: "trace",
	Does: "trace generates flows of several classes from a t2t model (the embedded one unless -model), placed between many hosts at the times of the classes' real arrival processes, and writes them as one pcap.",
	Example: []string{
		"-classes dns,http,ssh,ntp,icmp -flows 1000 -span 60s -seed 1 -out trace.pcap",
		"-classes dns,ssh -flows 0 -span 30s -topology '{\"clients\": 200}' -payload zeros -out t.pcap",
	},
}

type options struct {
	classes, model, arrivals, topology string
	out, labels, payload, mix, device  string
	flows, steps, batch                int
	span, margin                       time.Duration
	guidance                           float64
	seed                               uint64
	quiet                              bool
	topo                               *trace.Topology
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := command.FlagSet(stderr)
	fs.StringVar(&o.classes, "classes", "dns,http,ssh,ntp,icmp", "comma-separated classes of the model (prompts such as type-3 name their class)")
	fs.IntVar(&o.flows, "flows", 1000, "flows in all, split over the classes by -mix (0: as many as the learned rates bring over -span)")
	fs.DurationVar(&o.span, "span", 60*time.Second, "time over which flows start (0: as long as the learned rates need for -flows)")
	fs.StringVar(&o.mix, "mix", "rate", "how -flows is split over the classes: rate (in proportion to their learned flows per second, at least one each) or even")
	fs.Uint64Var(&o.seed, "seed", 1, "seed: the same seed gives the same trace")
	fs.StringVar(&o.out, "out", "trace.pcap", "pcap to write")
	fs.StringVar(&o.labels, "labels", "", "CSV `file` with one line per flow: start, end (its first and last packets' times), class, transport, client, server (address:port; ICMP: the echo identifier as the port), packets, prompt: the trace's ground truth")
	fs.StringVar(&o.model, "model", "", "model folder (default: the embedded model)")
	fs.StringVar(&o.arrivals, "arrivals", "", "arrival processes: the `path` of a JSON file (trace.Arrivals) or of a data set folder (<class>.pcap files or <class>/ folders) to learn them from (default: the embedded ones, learned from the embedded model's training captures)")
	fs.StringVar(&o.topology, "topology", "", "hosts: a JSON file or JSON text such as '{\"client_subnet\": \"10.1.0.0/24\", \"clients\": 50, \"server_subnet\": \"10.2.0.0/24\", \"servers\": {\"http\": \"10.2.0.80:8080\"}}' (default: those values)")
	fs.DurationVar(&o.margin, "margin", trace.DefaultMargin, "time a flow's 5-tuple stays taken after its last packet")
	fs.IntVar(&o.steps, "steps", pipeline.FastSteps, "denoising steps (the fast setting by default)")
	fs.Float64Var(&o.guidance, "guidance", 2, "classifier-free guidance scale (1: none)")
	fs.IntVar(&o.batch, "batch", 16, "flows denoised together")
	fs.StringVar(&o.payload, "payload", "snap", "payload of the packets: snap (cut after the headers), zeros or random")
	fs.StringVar(&o.device, "device", "cpu", "where the model runs: cpu, or cuda (a GPU: a build with -tags t2tcuda)")
	fs.BoolVar(&o.quiet, "q", false, "quiet: print nothing but errors")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	if o.quiet {
		stdout, stderr = io.Discard, io.Discard
	}
	folder, err := models.Load(o.model)
	if err != nil {
		return err
	}
	m := folder.Model
	known := strings.Split(m.Meta["classes"], ",")
	var names []string
	for _, c := range strings.Split(o.classes, ",") {
		name := pipeline.ClassOf(m, c)
		if !slices.Contains(known, name) {
			return cli.Usagef("-classes: %q is not a class of the model (%s)", c, strings.Join(known, ","))
		}
		if slices.Contains(names, name) {
			return cli.Usagef("-classes: %s given twice", name)
		}
		names = append(names, name)
	}
	arr, err := loadArrivals(o.arrivals)
	if err != nil {
		return err
	}
	var classes []trace.Class
	switch {
	case o.flows == 0:
		for _, name := range names {
			classes = append(classes, trace.Class{Name: name})
		}
	case o.mix == "even":
		if o.flows < len(names) {
			return cli.Usagef("-flows %d: want one or more per class (%d classes)", o.flows, len(names))
		}
		classes = trace.Even(o.flows, names)
	default:
		if classes, err = arr.Split(o.flows, names); err != nil {
			return fmt.Errorf("-arrivals: %w", err)
		}
	}
	sched, err := sampler.New("dpm++2m", m.Noise)
	if err != nil {
		return err
	}
	opt := trace.Options{Span: o.span, Seed: o.seed, Arrivals: arr, Topology: o.topo, Margin: o.margin,
		Sample: pipeline.Options{SampleOptions: pipeline.SampleOptions{Steps: o.steps, Scheduler: sched, Guidance: o.guidance, Batch: o.batch, Device: o.device},
			Profile: folder.Profile, Templates: folder.Templates, Payload: o.payload},
		Progress: func(class string, done, total int) {
			fmt.Fprintf(stderr, "\rdenoising %s %d/%d   ", class, done, total)
			if done == total {
				fmt.Fprintln(stderr)
			}
		}}
	plan, err := trace.NewPlan(classes, opt)
	if err != nil {
		return err
	}
	count := plan.Count()
	fmt.Fprintf(stderr, "plan: %d flows over %v (%s) from %d clients\n", len(plan.Slots), plan.Span.Round(time.Millisecond), counts(names, count), len(plan.Clients))
	t0 := time.Now()
	tr, err := trace.Generate(ctx, m, plan, opt)
	if err != nil {
		return err
	}
	if len(tr.Packets) == 0 {
		return errors.New("no flow had anything usable: the model's output is noise; nothing written")
	}
	if err := tr.WriteFile(o.out); err != nil {
		return err
	}
	if o.labels != "" {
		if err := writeLabels(o.labels, tr); err != nil {
			return err
		}
	}
	elapsed := time.Since(t0)
	fmt.Fprintf(stdout, "%d flows (%s) over %v between %d clients and %d servers: %d packets in %s; %d client ports redrawn for a taken 5-tuple, %d flows had nothing usable; %.1fs (%.3fs per flow, %.1fs sampling)\n",
		len(tr.Flows), counts(names, tr.Count()), plan.Span.Round(time.Millisecond), tr.Hosts(), len(plan.Servers), len(tr.Packets), o.out,
		tr.Redrawn, tr.Empty, elapsed.Seconds(), elapsed.Seconds()/float64(max(len(plan.Slots), 1)), tr.Sampling.Seconds())
	return nil
}

// counts lists the flows of each class: "dns 432, http 180".
func counts(names []string, n map[string]int) string {
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %d", name, n[name]))
	}
	return strings.Join(parts, ", ")
}

// loadArrivals reads -arrivals: the embedded processes, a JSON file, or a
// data set folder to learn them from.
func loadArrivals(path string) (*trace.Arrivals, error) {
	if path == "" {
		return trace.Default(), nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("-arrivals %s: %w", path, err)
	}
	if st.IsDir() {
		ds, err := pcapio.LoadDataset(path, pcapio.FlowOptions{MaxPackets: 1})
		if err != nil {
			return nil, fmt.Errorf("-arrivals: %w", err)
		}
		a := trace.Learn(ds)
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("-arrivals %s: %w (each class needs two flows or more)", path, err)
		}
		return a, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-arrivals: %w", err)
	}
	a, err := trace.ParseArrivals(b)
	if err != nil {
		return nil, fmt.Errorf("-arrivals %s: %w", path, err)
	}
	return a, nil
}

// check checks the flags' values and every path before any work, with
// errors that name the flag.
func (o *options) check() error {
	if err := cli.First(cli.NonNegative("-flows", o.flows), cli.Positive("-steps", o.steps), cli.Positive("-batch", o.batch)); err != nil {
		return err
	}
	if err := cli.Finite("-guidance", o.guidance); err != nil {
		return &cli.UsageError{Err: err}
	}
	switch {
	case o.span < 0:
		return cli.Usagef("-span %v: want 0 or more", o.span)
	case o.flows == 0 && o.span == 0:
		return cli.Usagef("-flows 0 and -span 0: give the flows, the span or both")
	case o.flows > trace.MaxFlows:
		return cli.Usagef("-flows %d: at most %d", o.flows, trace.MaxFlows)
	case strings.TrimSpace(o.classes) == "":
		return cli.Usagef("-classes is required")
	}
	for _, c := range strings.Split(o.classes, ",") {
		if strings.TrimSpace(c) == "" || c != strings.TrimSpace(c) {
			return cli.Usagef("-classes %q: want names separated by commas, such as dns,http,ssh", o.classes)
		}
	}
	switch o.mix {
	case "rate", "even":
	default:
		return cli.Usagef("-mix %q: want rate or even", o.mix)
	}
	switch o.payload {
	case "snap", "zeros", "random":
	default:
		return cli.Usagef("-payload %q: want snap, zeros or random", o.payload)
	}
	if err := pipeline.CheckDevice(o.device); err != nil {
		return cli.Usagef("-%w", err)
	}
	if err := cli.Model(o.model); err != nil {
		return err
	}
	if o.arrivals != "" {
		if _, err := os.Stat(o.arrivals); err != nil {
			return fmt.Errorf("-arrivals %s: %w", o.arrivals, err)
		}
	}
	if o.topology != "" {
		b := []byte(o.topology)
		if !strings.HasPrefix(strings.TrimSpace(o.topology), "{") {
			if err := cli.InFile("-topology", o.topology); err != nil {
				return err
			}
			var err error
			if b, err = os.ReadFile(o.topology); err != nil {
				return fmt.Errorf("-topology: %w", err)
			}
		}
		t, err := trace.ParseTopology(b)
		if err != nil {
			return cli.Usagef("-topology: %w", err)
		}
		o.topo = t
	}
	if err := cli.OutFile("-out", o.out); err != nil {
		return err
	}
	if o.labels != "" {
		return cli.OutFile("-labels", o.labels)
	}
	return nil
}

// writeLabels writes one CSV line per flow of the trace.
func writeLabels(path string, tr *trace.Trace) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"start", "end", "class", "transport", "client", "server", "packets", "prompt"})
	for _, fl := range tr.Flows {
		c, s := fl.Endpoints()
		w.Write([]string{fl.Start.UTC().Format(time.RFC3339Nano), fl.End.UTC().Format(time.RFC3339Nano), fl.Class,
			t2t.TransportName(fl.Key.Proto), c.String(), s.String(), strconv.Itoa(len(fl.Result.Packets)), fl.Prompt})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
