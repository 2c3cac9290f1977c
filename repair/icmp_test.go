package repair

import (
	"encoding/binary"
	"testing"

	"t2t"
)

// TestEchoRepliesPair: every echo reply answers its own request (same
// identifier and sequence number, sent before it, answered once), even when
// the model gives every reply sequence number 1 and doubles replies.
func TestEchoRepliesPair(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	checked := 0
	for i, f := range flows["icmp"] {
		if i == 6 {
			break
		}
		m := encode(t, f)
		c, _, _ := m.Layout.Field("icmp_roh") // identifier (16 bits), then sequence (16)
		ty, _, _ := m.Layout.Field("icmp_type")
		var rows []int8
		for r := 0; r < m.Rows; r++ {
			row := append([]int8(nil), m.Row(r)...)
			if row[ty+4] == 0 { // type 0: a reply; its sequence number becomes 1
				for b := 0; b < 16; b++ {
					row[c+16+b] = 0
				}
				row[c+31] = 1
				rows = append(rows, row...)
			}
			rows = append(rows, row...)
		}
		m.Bits, m.Rows, m.Times = rows, len(rows)/m.Cols, nil
		res, err := Flow(m, "icmp", prof, own(f), newRand(1))
		if err != nil {
			t.Fatal(err)
		}
		sent := map[uint32]bool{}
		answered := map[uint32]bool{}
		replies := 0
		for k, p := range res.Packets {
			info, err := t2t.ParseInfo(p.Link, p.Data)
			if err != nil {
				t.Fatal(err)
			}
			h := p.Data[info.TransOff:]
			key := binary.BigEndian.Uint32(h[4:8])
			switch h[0] {
			case 8:
				sent[key] = true
			case 0:
				replies++
				if !sent[key] || answered[key] {
					t.Fatalf("flow %d packet %d: reply id/seq %08x answers no request of its own (sent %v, answered before %v)", i, k, key, sent[key], answered[key])
				}
				answered[key] = true
			}
		}
		if replies == 0 {
			t.Fatalf("flow %d: no reply", i)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("%d flows checked", checked)
	}
}

// TestEchoIdentifierOption: Options.ClientPort sets the echo identifier
// of every packet of an ICMP flow, and changes nothing else (times,
// sequence numbers, lengths are those of the flow repaired without it).
func TestEchoIdentifierOption(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	f := flows["icmp"][0]
	m := encode(t, f)
	m.Times = nil
	plain, err := Flow(m, "icmp", prof, own(f), newRand(3))
	if err != nil {
		t.Fatal(err)
	}
	o := own(f)
	o.ClientPort = 0xbeef
	set, err := Flow(m, "icmp", prof, o, newRand(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Packets) != len(plain.Packets) || len(set.Packets) == 0 {
		t.Fatalf("%d packets with the identifier set, %d without", len(set.Packets), len(plain.Packets))
	}
	for k, p := range set.Packets {
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err != nil {
			t.Fatal(err)
		}
		if info.ICMPID != 0xbeef {
			t.Errorf("packet %d: identifier %#x, want 0xbeef", k, info.ICMPID)
		}
		q := plain.Packets[k]
		if qi, _ := t2t.ParseInfo(q.Link, q.Data); qi.ICMPID == 0xbeef {
			t.Fatalf("packet %d: the matrix's own identifier is 0xbeef: pick another", k)
		}
		h, hq := p.Data[info.TransOff:], q.Data[info.TransOff:]
		if !p.Time.Equal(q.Time) || len(p.Data) != len(q.Data) || h[0] != hq[0] || binary.BigEndian.Uint16(h[6:]) != binary.BigEndian.Uint16(hq[6:]) {
			t.Errorf("packet %d differs beyond its identifier: %v type %d seq %d len %d, without the option %v type %d seq %d len %d", k,
				p.Time, h[0], binary.BigEndian.Uint16(h[6:]), len(p.Data), q.Time, hq[0], binary.BigEndian.Uint16(hq[6:]), len(q.Data))
		}
	}
	checkWritten(t, "icmp-id", []*Result{set})
}

// TestEchoSequences: the profile learns where real ping sessions start
// and how they count (from 1, one by one, in the committed captures), and
// a flow whose requests the model numbered 7, 9, 11, ... with DF on
// every other one is repaired to a real start and real steps, with one DF
// for all its requests, as real flows have.
func TestEchoSequences(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	cp := prof.Classes["icmp"]
	if s, _ := mode(cp.EchoSteps); s != 1 {
		t.Fatalf("echo steps %v: want mostly 1", cp.EchoSteps)
	}
	if f, _ := mode(cp.EchoFirst); f != 1 {
		t.Fatalf("echo starts %v: want mostly 1", cp.EchoFirst)
	}
	t.Logf("icmp DF per direction %v, starts %v, steps %v", cp.ICMPDF, cp.EchoFirst, cp.EchoSteps)
	if cp.ICMPDF[0][1] == 0 {
		t.Fatalf("icmp DF counts %v: real requests carry DF", cp.ICMPDF)
	}
	if err := prof.Validate(); err != nil {
		t.Fatal(err)
	}
	f := flows["icmp"][0]
	m := encode(t, f)
	c, _, _ := m.Layout.Field("icmp_roh")
	ty, _, _ := m.Layout.Field("icmp_type")
	df, _, _ := m.Layout.Field("ipv4_dfbit")
	seq := 7
	for r := 0; r < m.Rows; r++ {
		row := m.Row(r)
		if row[ty+4] != 1 { // a reply keeps its own
			continue
		}
		for b := 0; b < 16; b++ { // requests numbered 7, 9, 11, ...
			row[c+16+b] = int8(seq >> (15 - b) & 1)
		}
		row[df] = int8(seq / 2 % 2)
		seq += 2
	}
	res, err := Flow(m, "icmp", prof, own(f), newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	dfs := map[bool]int{}
	for _, p := range res.Packets {
		info, err := t2t.ParseInfo(p.Link, p.Data)
		if err != nil {
			t.Fatal(err)
		}
		h := p.Data[info.TransOff:]
		if h[0] == 8 {
			got = append(got, int(binary.BigEndian.Uint16(h[6:8])))
			dfs[info.DF]++
		}
	}
	if len(got) < 2 {
		t.Fatalf("requests %v", got)
	}
	if len(dfs) != 1 {
		t.Errorf("requests with and without DF: %v", dfs)
	}
	if !contains(cp.EchoFirst, got[0]) {
		t.Errorf("first request %d: real sessions start at %v", got[0], cp.EchoFirst)
	}
	for i := 1; i < len(got); i++ {
		if d := got[i] - got[i-1]; !contains(cp.EchoSteps, d) {
			t.Errorf("requests %v: step %d is none real sessions take (%v)", got, d, cp.EchoSteps)
		}
	}
	// a hostile profile is refused, naming the field
	bad := *cp
	bad.EchoSteps = []Count{{Value: 70000, N: 1}}
	p2 := &Profile{Classes: map[string]*ClassProfile{"icmp": &bad}}
	if err := p2.Validate(); err == nil {
		t.Fatal("an echo step of 70000 passed")
	}
}
