package repair

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"t2t"
	"t2t/evaluate"
	"t2t/pcapio"
)

// classWide is cp as repair knew it before kinds of flows: the class's
// statistics alone.
func classWide(p *Profile) *Profile {
	out := &Profile{Classes: map[string]*ClassProfile{}}
	for k, c := range p.Classes {
		x := *c
		x.Kinds, x.ClientPorts, x.Dests, x.UnspecSrc, x.OneWay, x.IPID = nil, nil, nil, 0, 0, [2][pcapio.IDHabits]int{}
		out.Classes[k] = &x
	}
	return out
}

// TestRealRepairChanges measures, on a labelled set of real captures laid
// out as <dir>/train/<class>/ and <dir>/test/<class>/ (examples/subset
// -labels; T2T_REAL_DATA names dir, skipped when unset), what repair does
// to held-out real flows encoded as matrices: the bits it changes per flow
// and the per-kind field distances of the repaired flows to the real ones,
// with per-kind statistics and with the class-wide ones alone. Real flows
// are valid: every bit repair changes there is a change a generated flow
// of that kind would not need.
func TestRealRepairChanges(t *testing.T) {
	dir := os.Getenv("T2T_REAL_DATA")
	if dir == "" {
		t.Skip("T2T_REAL_DATA unset")
	}
	opts := pcapio.FlowOptions{MaxPackets: 64}
	tr, err := pcapio.LoadDataset(filepath.Join(dir, "train"), opts)
	if err != nil {
		t.Fatal(err)
	}
	te, err := pcapio.LoadDataset(filepath.Join(dir, "test"), opts)
	if err != nil {
		t.Fatal(err)
	}
	kinds := BuildProfile(tr.Flows)
	for _, c := range []struct {
		name string
		prof *Profile
	}{{"class-wide", classWide(kinds)}, {"per kind", kinds}} {
		bits, flows := 0, 0
		repaired := map[string][]*pcapio.Flow{}
		fields := map[string]int{}
		for class, fl := range te.Flows {
			var pk []pcapio.Packet
			for i, f := range fl {
				m := t2t.NewMatrix(ndLayout, 0)
				enc := t2t.NewEncoder(ndLayout, t2t.EncoderOptions{})
				for _, p := range f.Packets {
					enc.Append(m, p.Link, p.Data, p.Time)
				}
				if m.Rows == 0 {
					continue
				}
				res, err := Flow(m, class, c.prof, Options{FlowIndex: i, Start: f.First()}, newRand(int64(i)))
				if err != nil {
					continue
				}
				bits += res.Log.BitsChanged
				flows++
				for k, v := range res.Log.Fields {
					fields[k] += v
				}
				pk = append(pk, res.Packets...)
			}
			sort.SliceStable(pk, func(i, j int) bool { return pk[i].Time.Before(pk[j].Time) })
			path := filepath.Join(t.TempDir(), class+".pcap")
			if err := pcapio.WriteFile(path, t2t.LinkEthernet, pk, pcapio.WriterOptions{}); err != nil {
				t.Fatal(err)
			}
			if repaired[class], _, err = pcapio.AssembleFile(path, opts); err != nil {
				t.Fatal(err)
			}
		}
		kf := evaluate.CompareKinds(te.Flows, repaired)
		type fv struct {
			f string
			n int
		}
		var top []fv
		for k, v := range fields {
			top = append(top, fv{k, v})
		}
		sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n })
		t.Logf("%s: %d flows, %.1f bits changed per flow; top fields %v", c.name, flows, float64(bits)/float64(max(flows, 1)), top[:min(8, len(top))])
		t.Logf("%s: per-kind TV medians, repaired against real: %v", c.name, kf.Median)
		for _, k := range kf.Kinds {
			if testing.Verbose() && (k.TV["dst"] > 0 || k.TV["sport"] > 0.3 || k.TV["ttl"] > 0.5) {
				t.Logf("  %s %s %d/%d: %v", k.Class, k.Kind, k.Real, k.Synthetic, k.TV)
			}
		}
	}
}
