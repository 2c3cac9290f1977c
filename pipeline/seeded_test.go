package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"t2t/models"
	"t2t/sampler"
)

// seededKey is a flow's raw bits and its packets, byte for byte.
func seededKey(f *SeededFlow) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s/%d %s %d rows:", f.Class, f.Index, f.Prompt, f.Matrix.Rows)
	for _, v := range f.Matrix.Bits {
		b.WriteByte(byte(v + 1))
	}
	for _, p := range f.Packets {
		fmt.Fprintf(&b, "|%d %d %x", p.Time.UnixNano(), p.OrigLen, p.Data)
	}
	return b.String()
}

// TestGenerateSeededSplit: with the embedded model (templates, windows
// continued past the model's rows), each flow is the same bit for bit
// whether generated all in one batch, one by one, or in another order in
// batches of 3 over two calls; other indices and another seed give other
// flows.
func TestGenerateSeededSplit(t *testing.T) {
	f, err := models.Load("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sampler.New("", f.Model.Noise)
	if err != nil {
		t.Fatal(err)
	}
	var refs []FlowRef
	for _, c := range []string{"dns", "ssh"} {
		for i := range 4 {
			refs = append(refs, FlowRef{c, i})
		}
	}
	opt := Options{Profile: f.Profile, Templates: f.Templates, MaxPackets: 80,
		SampleOptions: SampleOptions{Steps: FastSteps, Scheduler: s, Guidance: 2, Seed: 7}}
	long := 0 // flows of the first run longer than the model's window
	run := func(refs []FlowRef, batch int, seed uint64) map[FlowRef]string {
		t.Helper()
		o := opt
		o.Batch, o.Seed = batch, seed
		flows, err := GenerateSeeded(context.Background(), f.Model, refs, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(flows) != len(refs) {
			t.Fatalf("%d flows for %d refs", len(flows), len(refs))
		}
		out := map[FlowRef]string{}
		for i, fl := range flows {
			if fl.FlowRef != refs[i] {
				t.Fatalf("flow %d is %v, want %v", i, fl.FlowRef, refs[i])
			}
			if len(fl.Packets) == 0 {
				t.Fatalf("flow %v has no packets", fl.FlowRef)
			}
			out[fl.FlowRef] = seededKey(fl)
			if fl.Matrix.Rows > f.Model.UNet.Config.Rows {
				long++
			}
		}
		return out
	}
	whole := run(refs, 0, 7)
	if long == 0 {
		t.Fatal("no flow continued past the model's window: the test misses continueEach")
	}
	single := run(refs, 1, 7)
	rev := slices.Clone(refs)
	slices.Reverse(rev)
	split := run(rev[:5], 3, 7)
	for k, v := range run(rev[5:], 3, 7) {
		split[k] = v
	}
	for _, r := range refs {
		if whole[r] != single[r] || whole[r] != split[r] {
			t.Errorf("flow %v differs between batchings", r)
		}
	}
	seen := map[string]FlowRef{}
	for r, v := range whole {
		if o, ok := seen[v]; ok {
			t.Errorf("flows %v and %v are equal", r, o)
		}
		seen[v] = r
	}
	other := run(refs[:2], 0, 8)
	for _, r := range refs[:2] {
		if other[r] == whole[r] {
			t.Errorf("flow %v: seed 8 gives the flow of seed 7", r)
		}
	}
}

// TestFlowSeed: seeds differ across classes, indices and run seeds.
func TestFlowSeed(t *testing.T) {
	seen := map[uint64]string{}
	for _, seed := range []uint64{0, 1} {
		for _, c := range []string{"dns", "ssh", "dnt"} {
			for i := range 1000 {
				k := FlowSeed(seed, c, i)
				id := fmt.Sprint(seed, c, i)
				if o, ok := seen[k]; ok {
					t.Fatalf("FlowSeed %s = FlowSeed %s", id, o)
				}
				seen[k] = id
			}
		}
	}
}
