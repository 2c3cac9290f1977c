package t2tbeam

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"t2t"
	"t2t/models"
	"t2t/pcapio"
	"t2t/pipeline"
	"t2t/sampler"
	"t2t/unet"
)

// Request asks for Flows flows of Class (a class name of the model, or a
// type-<i> alias).
type Request struct {
	Class string
	Flows int
}

// GenerateOptions configure Generate.
type GenerateOptions struct {
	Requests []Request
	// Model is a model folder ("": the embedded model); every worker
	// loads it once (DoFn Setup), so it must be readable by the workers.
	Model string
	// Out is the output folder: <class>/<class>-SSSSS.pcap shards,
	// manifest.json and manifest.csv.
	Out  string
	Seed uint64
	// Steps, Scheduler, Guidance, Transport, MaxPackets and Payload are
	// examples/synthesize's (0 and "": 20 steps, dpm++2m, guidance 0,
	// the class's transport mix, pipeline.DefaultMaxPackets, snap).
	Steps      int
	Scheduler  string
	Guidance   float64
	Transport  string
	MaxPackets int
	Payload    string
	// NoTemplates: a masked model's flows take no real flow's structure.
	NoTemplates bool
	// Batch is the number of flows a worker denoises together (0: 10).
	Batch int
	// Split is the number of work elements the flows are dealt into, in
	// (request, index) order (0: one per Batch flows). It changes how
	// the work is spread, never the flows.
	Split int
	// FlowsPerShard is the number of flows of one pcap shard (0: 1000):
	// flow i of a class goes to shard i / FlowsPerShard.
	FlowsPerShard int
	// Progress prints a line per work element done on standard error.
	Progress bool
}

// Work is one work element: the flows a worker samples together.
type Work struct {
	Refs []pipeline.FlowRef
}

// GenFlow is one generated flow on its way to its shard.
type GenFlow struct {
	Class   string
	Index   int
	Seed    uint64
	Prompt  string
	Packets []byte // encodePackets
	N       int    // packets (0: repair found nothing usable)
}

// ShardStat describes one pcap shard written.
type ShardStat struct {
	Class   string `json:"class"`
	Shard   int    `json:"shard"`
	File    string `json:"file"`
	Flows   int    `json:"flows"`
	Empty   int    `json:"empty"` // flows with nothing usable: no packets
	Packets int    `json:"packets"`
}

// ClassManifest is one class of the generate manifest.
type ClassManifest struct {
	Class   string      `json:"class"`
	Flows   int         `json:"flows"`
	Packets int         `json:"packets"`
	Empty   int         `json:"empty"`
	Seed    uint64      `json:"seed"` // the run's seed: flow i's is pipeline.FlowSeed(seed, class, i)
	Shards  []ShardStat `json:"shards"`
}

// GenerateManifest is manifest.json of Generate.
type GenerateManifest struct {
	Seed    uint64          `json:"seed"`
	Model   string          `json:"model"`
	Steps   int             `json:"steps"`
	Classes []ClassManifest `json:"classes"`
}

func init() {
	register.DoFn3x1[context.Context, Work, func(string, GenFlow), error](&generateFn{})
	register.Emitter2[string, GenFlow]()
	register.DoFn4x1[context.Context, string, func(*GenFlow) bool, func(ShardStat), error](&writePcapShardFn{})
	register.Iter1[GenFlow]()
	register.Emitter1[ShardStat]()
	register.DoFn3x1[context.Context, int, func(*ShardStat) bool, error](&writeGenerateManifestFn{})
	register.Iter1[ShardStat]()
	register.Function1x2[ShardStat, int, ShardStat](shardKey)
	beam.RegisterType(typeOf[Work]())
	beam.RegisterType(typeOf[GenFlow]())
	beam.RegisterType(typeOf[ShardStat]())
}

func (o *GenerateOptions) defaults() {
	if o.Steps == 0 {
		o.Steps = 20
	}
	if o.Batch == 0 {
		o.Batch = 10
	}
	if o.FlowsPerShard == 0 {
		o.FlowsPerShard = 1000
	}
}

// Validate checks the options before a pipeline is built.
func (o *GenerateOptions) Validate() error {
	if len(o.Requests) == 0 {
		return errors.New("t2tbeam: generate: no requests")
	}
	seen := map[string]bool{}
	for _, r := range o.Requests {
		if r.Flows < 1 {
			return fmt.Errorf("t2tbeam: generate: class %q: %d flows, want 1 or more", r.Class, r.Flows)
		}
		if _, err := unet.NormalizeToken(r.Class); err != nil || strings.ContainsAny(r.Class, `/\ `) {
			return fmt.Errorf("t2tbeam: generate: class %q cannot name a file", r.Class)
		}
		if seen[r.Class] {
			return fmt.Errorf("t2tbeam: generate: class %q requested twice", r.Class)
		}
		seen[r.Class] = true
	}
	if o.Out == "" {
		return errors.New("t2tbeam: generate: no output folder")
	}
	if o.Steps < 0 || o.Batch < 0 || o.Split < 0 || o.FlowsPerShard < 0 || o.MaxPackets < 0 {
		return errors.New("t2tbeam: generate: steps, batch, split, flows per shard and max packets must not be negative")
	}
	return nil
}

// Works deals the requested flows, in (request, index) order, into
// work elements (see GenerateOptions.Split).
func (o GenerateOptions) Works() []Work {
	o.defaults()
	var refs []pipeline.FlowRef
	for _, r := range o.Requests {
		for i := range r.Flows {
			refs = append(refs, pipeline.FlowRef{Class: r.Class, Index: i})
		}
	}
	n := o.Split
	if n <= 0 {
		n = (len(refs) + o.Batch - 1) / o.Batch
	}
	n = min(n, len(refs))
	var ws []Work
	for k := range n {
		a, b := k*len(refs)/n, (k+1)*len(refs)/n
		ws = append(ws, Work{Refs: refs[a:b]})
	}
	return ws
}

// Generate adds the generate pipeline to s: opt.Requests -> work
// elements -> flows sampled and repaired by workers (each loads the model
// once) -> pcap shards per class and the manifest in opt.Out.
func Generate(s beam.Scope, opt GenerateOptions) error {
	if err := opt.Validate(); err != nil {
		return err
	}
	opt.defaults()
	// the model must load here too: a bad folder fails before the run
	f, err := models.Load(opt.Model)
	if err != nil {
		return err
	}
	classes := strings.Split(f.Model.Meta["classes"], ",")
	for i, r := range opt.Requests {
		c := pipeline.ClassOf(f.Model, r.Class)
		if !slices.Contains(classes, c) {
			return fmt.Errorf("t2tbeam: generate: class %q: the model knows %s", r.Class, strings.Join(classes, ", "))
		}
		opt.Requests[i].Class = c
	}
	if _, err := sampler.New(opt.Scheduler, f.Model.Noise); err != nil {
		return fmt.Errorf("t2tbeam: generate: %w", err)
	}
	s = s.Scope("t2t.Generate")
	works := beam.Reshuffle(s, beam.CreateList(s, opt.Works()))
	flows := beam.ParDo(s, &generateFn{Opt: opt}, works)
	stats := beam.ParDo(s, &writePcapShardFn{Opt: opt}, beam.GroupByKey(s, flows))
	beam.ParDo0(s, &writeGenerateManifestFn{Opt: opt}, beam.GroupByKey(s, beam.ParDo(s, shardKey, stats)))
	return nil
}

func shardKey(st ShardStat) (int, ShardStat) { return 0, st }

var flowsCounter = beam.NewCounter("t2t", "flows")

// generateFn samples and repairs the flows of a work element; it loads
// the model once, in Setup.
type generateFn struct {
	Opt GenerateOptions

	folder *models.Folder
	sched  sampler.Scheduler
}

func (f *generateFn) Setup() error {
	folder, err := models.Load(f.Opt.Model)
	if err != nil {
		return err
	}
	s, err := sampler.New(f.Opt.Scheduler, folder.Model.Noise)
	if err != nil {
		return err
	}
	f.folder, f.sched = folder, s
	return nil
}

func (f *generateFn) ProcessElement(ctx context.Context, w Work, emit func(string, GenFlow)) error {
	t0 := time.Now()
	o := f.Opt
	popt := pipeline.Options{Profile: f.folder.Profile, Payload: o.Payload, Transport: o.Transport, MaxPackets: o.MaxPackets,
		SampleOptions: pipeline.SampleOptions{Steps: o.Steps, Scheduler: f.sched, Guidance: o.Guidance, Seed: o.Seed, Batch: o.Batch}}
	if !o.NoTemplates {
		popt.Templates = f.folder.Templates
	}
	flows, err := pipeline.GenerateSeeded(ctx, f.folder.Model, w.Refs, popt)
	if err != nil {
		return err
	}
	for _, fl := range flows {
		emit(fmt.Sprintf("%s\x00%d", fl.Class, fl.Index/o.FlowsPerShard), GenFlow{Class: fl.Class, Index: fl.Index, Seed: fl.Seed,
			Prompt: fl.Prompt, Packets: encodePackets(fl.Packets), N: len(fl.Packets)})
	}
	flowsCounter.Inc(ctx, int64(len(flows)))
	if o.Progress {
		fmt.Fprintf(os.Stderr, "generate: %d flows (%s/%d ...) in %v\n", len(flows), w.Refs[0].Class, w.Refs[0].Index, time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

// encodePackets packs packets as records of time (Unix ns, 8 bytes),
// length on the wire and captured length (4 bytes each), then the data.
func encodePackets(ps []pcapio.Packet) []byte {
	var b []byte
	for _, p := range ps {
		b = binary.LittleEndian.AppendUint64(b, uint64(p.Time.UnixNano()))
		b = binary.LittleEndian.AppendUint32(b, uint32(p.OrigLen))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b
}

func decodePackets(b []byte) ([]pcapio.Packet, error) {
	var ps []pcapio.Packet
	for len(b) > 0 {
		if len(b) < 16 {
			return nil, errors.New("t2tbeam: truncated packet record")
		}
		ts := time.Unix(0, int64(binary.LittleEndian.Uint64(b))).UTC()
		orig := int(binary.LittleEndian.Uint32(b[8:]))
		n := int(binary.LittleEndian.Uint32(b[12:]))
		if len(b) < 16+n {
			return nil, errors.New("t2tbeam: truncated packet record")
		}
		ps = append(ps, pcapio.Packet{Time: ts, OrigLen: orig, Data: b[16 : 16+n], Link: t2t.LinkEthernet})
		b = b[16+n:]
	}
	return ps, nil
}

// writePcapShardFn writes one pcap shard of a class: its flows' packets
// interleaved by time, as pipeline.Generate merges them (packets of equal
// time in flow index order).
type writePcapShardFn struct {
	Opt GenerateOptions
}

func (f *writePcapShardFn) ProcessElement(ctx context.Context, key string, flows func(*GenFlow) bool, emit func(ShardStat)) error {
	var all []GenFlow
	var g GenFlow
	for flows(&g) {
		all = append(all, g)
	}
	slices.SortFunc(all, func(a, b GenFlow) int { return a.Index - b.Index })
	class, _, _ := strings.Cut(key, "\x00")
	st := ShardStat{Class: class, Shard: all[0].Index / f.Opt.FlowsPerShard, Flows: len(all)}
	var ps []pcapio.Packet
	for _, g := range all {
		p, err := decodePackets(g.Packets)
		if err != nil {
			return err
		}
		if len(p) == 0 {
			st.Empty++
		}
		ps = append(ps, p...)
	}
	slices.SortStableFunc(ps, func(a, b pcapio.Packet) int { return a.Time.Compare(b.Time) })
	st.Packets = len(ps)
	var b bytes.Buffer
	w, err := pcapio.NewWriter(&b, t2t.LinkEthernet, pcapio.WriterOptions{})
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := w.Write(p); err != nil {
			return fmt.Errorf("t2tbeam: %s shard %d: %w", class, st.Shard, err)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	st.File = fmt.Sprintf("%s/%s-%05d.pcap", class, class, st.Shard)
	if err := writeFile(ctx, joinPath(f.Opt.Out, st.File), b.Bytes()); err != nil {
		return err
	}
	emit(st)
	return nil
}

// writeGenerateManifestFn writes manifest.json and manifest.csv.
type writeGenerateManifestFn struct {
	Opt GenerateOptions
}

func (f *writeGenerateManifestFn) ProcessElement(ctx context.Context, _ int, stats func(*ShardStat) bool) error {
	byClass := map[string]*ClassManifest{}
	var st ShardStat
	for stats(&st) {
		c := byClass[st.Class]
		if c == nil {
			c = &ClassManifest{Class: st.Class, Seed: f.Opt.Seed}
			byClass[st.Class] = c
		}
		c.Flows += st.Flows
		c.Packets += st.Packets
		c.Empty += st.Empty
		c.Shards = append(c.Shards, st)
	}
	m := GenerateManifest{Seed: f.Opt.Seed, Model: f.Opt.Model, Steps: f.Opt.Steps}
	if m.Model == "" {
		m.Model = "embedded"
	}
	var csv strings.Builder
	csv.WriteString("class,flows,packets,seed\n")
	for _, r := range f.Opt.Requests {
		c := byClass[r.Class]
		if c == nil {
			return fmt.Errorf("t2tbeam: generate: no flows of class %s came back", r.Class)
		}
		slices.SortFunc(c.Shards, func(a, b ShardStat) int { return a.Shard - b.Shard })
		m.Classes = append(m.Classes, *c)
		fmt.Fprintf(&csv, "%s,%d,%d,%d\n", c.Class, c.Flows, c.Packets, c.Seed)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(ctx, joinPath(f.Opt.Out, "manifest.json"), append(b, '\n')); err != nil {
		return err
	}
	return writeFile(ctx, joinPath(f.Opt.Out, "manifest.csv"), []byte(csv.String()))
}
