package repair

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"t2t"
	"t2t/pcapio"
)

// payloads lists the transport payload length, direction and PSH flag of
// the first PositionPackets packets of a repaired flow, and whether each
// is one repair decides (TCP without SYN, FIN or RST; UDP).
type shown struct {
	plen, dir int
	psh, free bool
}

func payloads(t *testing.T, res *Result) []shown {
	t.Helper()
	var out []shown
	for k, pk := range res.Packets {
		if k >= PositionPackets {
			break
		}
		info, err := t2t.ParseInfo(pk.Link, pk.Data)
		if err != nil {
			t.Fatal(err)
		}
		s := shown{dir: 1, free: true}
		if info.Src == res.Client.Addr() {
			s.dir = 0
		}
		th := 8
		if info.Proto == t2t.ProtoTCP {
			th = info.TCPDataOff
			s.psh = info.TCPFlags&flagPSH != 0
			s.free = info.TCPFlags&(flagSYN|flagFIN|flagRST) == 0
		}
		s.plen = info.IPLen - (info.TransOff - info.NetOff) - th
		out = append(out, s)
	}
	return out
}

// TestSequence: the profile learns what each class's TCP flows send
// after each data packet and packet (ClassProfile.Steps). Real flows whose
// data lengths are all damaged to one value come back with, at every
// position the steps describe, a length the step of the packet's context
// or its position has, and mostly (more often than with the positions
// alone) one real flows send after the flow's previous packets: a
// sequence the class has. PSH set on every packet is cleared where real
// flows never push (empty segments). A profile learned from one flow
// gives its lengths back.
func TestSequence(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	tl, _, _ := ndLayout.Field("ipv4_tl")
	psh, _, _ := ndLayout.Field("tcp_psh")
	allSeq, allPos := 0, 0
	for _, class := range []string{"ssh", "http", "redis"} {
		cp := prof.Class(class)
		if len(cp.Steps) == 0 {
			t.Fatalf("%s: no steps learned", class)
		}
		noSteps := *cp
		noSteps.Steps = nil
		one := BuildProfile(map[string][]*pcapio.Flow{class: flows[class][:1]})
		seq, seqPos, checked, pushed := 0, 0, 0, 0
		for i, f := range flows[class] {
			m := encode(t, f)
			for r := 0; r < m.Rows; r++ {
				row := m.Row(r)
				if row[tl] == -1 {
					continue
				}
				// 0x0255 (597) unless the row is a header-only segment
				if readBits(row[tl:tl+16]) > 60 {
					setBits(row[tl:tl+16], 0x0255)
				}
				if row[psh] != -1 {
					row[psh] = 1
				}
			}
			var got [2][]shown
			for n, p := range []*Profile{prof, {Classes: map[string]*ClassProfile{class: &noSteps}}} {
				res, err := Flow(m, class, p, own(f), newRand(int64(i)))
				if err != nil {
					t.Fatal(err)
				}
				got[n] = payloads(t, res)
			}
			for n, g := range got {
				prevDir, prevLen, last := -1, 0, -1
				for k, s := range g {
					if s.free && s.plen > 0 {
						st := cp.step(stepKey{k, s.dir, prevDir, prevLen, last})
						at := cp.step(stepKey{k, s.dir, AnyPrev, 0, -1})
						if n == 0 && !hasLen(st, s.plen) && !hasLen(at, s.plen) {
							t.Fatalf("%s flow %d packet %d: length %d after %d bytes from %d: neither its step nor its position has it", class, i, k, s.plen, prevLen, prevDir)
						}
						if n == 0 {
							checked++
						}
						if hasLen(st, s.plen) {
							if n == 0 {
								seq++
							} else {
								seqPos++
							}
						}
					}
					if n == 0 && s.free && s.plen == 0 && s.psh {
						pushed++
					}
					last = 2 * s.dir
					if s.plen > 0 {
						prevDir, prevLen, last = s.dir, s.plen, 2*s.dir+1
					}
				}
			}
			if i == 0 {
				res, err := Flow(m, class, one, own(f), newRand(1))
				if err != nil {
					t.Fatal(err)
				}
				want := payloads(t, BuildAndKeep(t, f))
				for k, s := range payloads(t, res) {
					if k < len(want) && s.plen != want[k].plen {
						t.Errorf("%s flow 0 repaired with its own profile: packet %d has %d bytes, want %d", class, k, s.plen, want[k].plen)
					}
				}
			}
		}
		t.Logf("%s: %d damaged lengths: %d follow their previous packets as in real flows with steps, %d with positions alone; %d empty segments pushed", class, checked, seq, seqPos, pushed)
		allSeq, allPos = allSeq+seq, allPos+seqPos
		if checked == 0 || seq < checked*7/10 || seq < seqPos {
			t.Errorf("%s: %d of %d lengths follow their previous packets as real ones do with steps, %d with positions alone", class, seq, checked, seqPos)
		}
		if pushed != 0 {
			t.Errorf("%s: %d empty segments keep a PSH real flows never have", class, pushed)
		}
	}
	if allSeq < allPos {
		t.Errorf("%d lengths follow their previous packets as real ones do with steps, %d with positions alone", allSeq, allPos)
	}
}

// TestSequenceKnown: of two real flows that differ in two consecutive
// data segments (A: a then a', B: b then b'), a copy of A whose second
// length is damaged to one bit from both a' and b' gets a' back, after a,
// SequenceWeight + (1-SequenceWeight)/2 of the time (the step after a
// has only a'; the position has both); with the positions alone, half of
// the time.
func TestSequenceKnown(t *testing.T) {
	a := committed(t)["ssh"][0]
	tl, _, _ := ndLayout.Field("ipv4_tl")
	m := encode(t, a)
	ip := make([]int, m.Rows) // IP lengths and payloads of A
	pay := make([]int, m.Rows)
	k := -1
	for r, pk := range a.Packets {
		info, _ := t2t.ParseInfo(pk.Link, pk.Data)
		ip[r], pay[r] = info.IPLen, info.IPLen-(info.TransOff-info.NetOff)-info.TCPDataOff
		if k < 0 && r >= 4 && r < PositionPackets && pay[r-1] > 16 && pay[r] > 4 && info.TCPFlags&(flagSYN|flagFIN|flagRST) == 0 {
			k = r - 1
		}
	}
	if k < 0 {
		t.Fatal("no two consecutive data segments in the flow")
	}
	// B: 16 bytes more at k, a' ^ 0b11 at k+1, through repair without a
	// profile (which keeps the lengths) and a capture file
	mb := encode(t, a)
	setBits(mb.Row(k)[tl:tl+16], ip[k]+16)
	setBits(mb.Row(k + 1)[tl:tl+16], ip[k+1]^0b11)
	res, err := Flow(mb, "ssh", nil, own(a), newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.pcap")
	if err := pcapio.WriteFile(path, t2t.LinkEthernet, res.Packets, pcapio.WriterOptions{}); err != nil {
		t.Fatal(err)
	}
	fb, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{})
	if err != nil || len(fb) != 1 {
		t.Fatalf("flow B: %v, %d flows", err, len(fb))
	}
	prof := BuildProfile(map[string][]*pcapio.Flow{"x": {a, fb[0]}})
	cp := prof.Class("x")
	cp.IPLens = nil // no snapping of lengths before the positions
	noSteps := *cp
	noSteps.Steps = nil
	setBits(m.Row(k + 1)[tl:tl+16], ip[k+1]^0b01)
	const n = 400
	for j, p := range []*Profile{prof, {Classes: map[string]*ClassProfile{"x": &noSteps}}} {
		back, other := 0, 0
		for seed := range n {
			res, err := Flow(m, "x", p, own(a), newRand(int64(seed)))
			if err != nil {
				t.Fatal(err)
			}
			g := payloads(t, res)
			if g[k].plen != pay[k] {
				t.Fatalf("packet %d: %d bytes, want A's %d kept", k, g[k].plen, pay[k])
			}
			switch g[k+1].plen {
			case pay[k+1]:
				back++
			case pay[k+1] ^ 0b11:
				other++
			default:
				t.Fatalf("packet %d: %d bytes, neither a' %d nor b' %d", k+1, g[k+1].plen, pay[k+1], pay[k+1]^0b11)
			}
		}
		got := float64(back) / n
		want := SequenceWeight + (1-SequenceWeight)/2
		if j == 1 {
			want = 0.5
		}
		t.Logf("steps %v: a' %d times, b' %d times of %d", j == 0, back, other, n)
		if got < want-0.08 || got > want+0.08 {
			t.Errorf("steps %v: a' drawn %.2f of the time, want %.2f", j == 0, got, want)
		}
	}
}

// TestPresence: real flows whose segments are all made empty get data
// back where the class's real flows never send an empty segment (in the
// packet's step), each a length of that step, and only before the flow's
// first FIN or RST; without steps they stay empty.
func TestPresence(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	tl, _, _ := ndLayout.Field("ipv4_tl")
	for _, class := range []string{"ssh", "redis"} {
		cp := prof.Class(class)
		noSteps := *cp
		noSteps.Steps = nil
		data, back, stayed := 0, 0, 0
		for i, f := range flows[class] {
			m := encode(t, f)
			for r, pk := range f.Packets {
				info, err := t2t.ParseInfo(pk.Link, pk.Data)
				if err != nil || !info.TCPHeader {
					t.Fatal("not TCP")
				}
				plen := info.IPLen - (info.TransOff - info.NetOff) - info.TCPDataOff
				if plen > 0 && r < PositionPackets {
					data++
				}
				setBits(m.Row(r)[tl:tl+16], info.IPLen-plen)
			}
			for n, p := range []*Profile{prof, {Classes: map[string]*ClassProfile{class: &noSteps}}} {
				res, err := Flow(m, class, p, own(f), newRand(int64(i)))
				if err != nil {
					t.Fatal(err)
				}
				g := payloads(t, res)
				ended := false
				prevDir, prevLen, last := -1, 0, -1
				for k, s := range g {
					if !s.free {
						ended = ended || k > 2
					}
					if s.plen > 0 {
						if n == 1 {
							t.Fatalf("%s flow %d packet %d: %d bytes without steps", class, i, k, s.plen)
						}
						if ended {
							t.Fatalf("%s flow %d packet %d: %d bytes after a FIN or RST", class, i, k, s.plen)
						}
						st := cp.step(stepKey{k, s.dir, prevDir, prevLen, last})
						if !hasLen(st, s.plen) || hasLen(st, 0) {
							t.Fatalf("%s flow %d packet %d: %d bytes, not a length of a step without empty segments", class, i, k, s.plen)
						}
						back++
					} else if n == 0 && s.free && k > 2 && !ended {
						stayed++
					}
					last = 2 * s.dir
					if s.plen > 0 {
						prevDir, prevLen, last = s.dir, s.plen, 2*s.dir+1
					}
				}
			}
		}
		t.Logf("%s: %d data segments made empty; %d get data back from their step, %d empty ones stay", class, data, back, stayed)
		if back < data/2 {
			t.Errorf("%s: %d of %d data segments get data back", class, back, data)
		}
	}
}

// setBits writes v into the bits of b, most significant first.
func setBits(b []int8, v int) {
	for k := range b {
		b[k] = int8(v >> (len(b) - 1 - k) & 1)
	}
}

// BuildAndKeep repairs a real flow with its own profile: itself.
func BuildAndKeep(t *testing.T, f *pcapio.Flow) *Result {
	t.Helper()
	res, err := Flow(encode(t, f), "x", BuildProfile(map[string][]*pcapio.Flow{"x": {f}}), own(f), newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDrawLength: with a known step, a generated length the step has is
// kept; one it lacks becomes, among lengths equally far in bits, the
// step's more often than the position's others, in proportion to
// SequenceWeight; without a step, the position decides alone. An empty
// segment stays empty where its step has empty segments, else takes one
// of the step's lengths.
func TestDrawLength(t *testing.T) {
	// 0b0100 and 0b0001 are both one bit from the generated 0b0101
	s := &Step{Pos: 5, Dir: 0, PrevDir: 1, PrevLen: 300, Last: 3, Next: []Next{{Len: 0b0100, N: 3, PSH: 3}}}
	ps := &Step{Pos: 5, Dir: 0, PrevDir: AnyPrev, Last: -1, Next: []Next{{Len: 0b0100, N: 3}, {Len: 0b0001, N: 3}}}
	rp := &repairer{rng: rand.New(rand.NewPCG(1, 2))}
	if v := rp.drawLength(0b0100, s, ps, nil, 1500); v != 0b0100 {
		t.Fatalf("a length of the step: %d, want it kept", v)
	}
	n, fromStep := 10000, 0
	for range n {
		switch v := rp.drawLength(0b0101, s, ps, nil, 1500); v {
		case 0b0100:
			fromStep++
		case 0b0001:
		default:
			t.Fatalf("drew %d, a length neither step has", v)
		}
	}
	// weights: the step's 0.8 + 0.2*0.5 against 0.2*0.5
	want := SequenceWeight + (1-SequenceWeight)/2
	if got := float64(fromStep) / float64(n); got < want-0.02 || got > want+0.02 {
		t.Errorf("drew the step's length %.3f of the time, want %.3f", got, want)
	}
	n1 := 0
	for range 1000 {
		if rp.drawLength(0b0101, nil, ps, nil, 1500) == 0b0001 {
			n1++
		}
	}
	if n1 < 400 || n1 > 600 {
		t.Errorf("without a step: the position's two lengths drawn %d and %d times of 1000", 1000-n1, n1)
	}
	if v := rp.drawLength(0b0101, s, ps, nil, 3); v != 0b0001 {
		t.Errorf("only 1 in range: drew %d", v)
	}
	if v := rp.drawLength(0, s, ps, nil, 1500); v != 0b0100 {
		t.Errorf("empty segment where the step has none: %d bytes, want 4", v)
	}
	s.Next = append(s.Next, Next{Len: 0, N: 1})
	if v := rp.drawLength(0, s, ps, nil, 1500); v != 0 {
		t.Errorf("empty segment where the step has empty ones: %d bytes, want 0", v)
	}
	if v := rp.drawLength(0, nil, ps, nil, 1500); v != 0 {
		t.Errorf("empty segment without a step: %d bytes, want 0", v)
	}
}

// TestStepsValidate: a profile whose steps are too many, out of order,
// out of range or with more pushes than packets is refused, naming the
// step.
func TestStepsValidate(t *testing.T) {
	prof := BuildProfile(committed(t))
	if err := prof.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mod  func(*ClassProfile)
		want string
	}{
		{"too many", func(c *ClassProfile) { c.Steps = make([]Step, MaxSteps+1) }, "steps, at most"},
		{"out of order", func(c *ClassProfile) { c.Steps[1], c.Steps[2] = c.Steps[2], c.Steps[1] }, "steps[2]: not after"},
		{"repeated", func(c *ClassProfile) { c.Steps[3] = c.Steps[2] }, "steps[3]: not after"},
		{"last", func(c *ClassProfile) { c.Steps[0].Last = 4 }, "last 4"},
		{"position", func(c *ClassProfile) { c.Steps[len(c.Steps)-1].Pos = PositionPackets }, "pos 32"},
		{"previous", func(c *ClassProfile) { c.Steps[0].PrevDir, c.Steps[0].PrevLen = -1, 7 }, "steps[0]: pos"},
		{"pushes", func(c *ClassProfile) { c.Steps[4].Next[0].PSH = c.Steps[4].Next[0].N + 1 }, "steps[4].next[0]"},
		{"length", func(c *ClassProfile) { c.Steps[4].Next[0].Len = 70000 }, "steps[4].next[0]"},
		{"lengths", func(c *ClassProfile) { c.Steps[4].Next = make([]Next, MaxCounts+1) }, "steps[4]: 65 next lengths"},
		{"psh", func(c *ClassProfile) { c.PSH[1][0][1] = -1 }, "psh[1][0]"},
	} {
		bad := *prof.Classes["ssh"]
		bad.Steps = append([]Step(nil), bad.Steps...)
		for i := range bad.Steps {
			bad.Steps[i].Next = append([]Next(nil), bad.Steps[i].Next...)
		}
		c.mod(&bad)
		p := &Profile{Classes: map[string]*ClassProfile{"ssh": &bad}}
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}
