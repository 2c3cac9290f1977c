package repair

import (
	"strings"
	"testing"

	"t2t"
)

// TestPositions: the profile learns, per packet position and direction,
// the payload lengths and windows of the class's real flows; real flows
// whose lengths and windows are damaged come out of repair with, at every
// position the profile describes, a payload length and window that real
// flows of the class carry at that position in that direction; the damage
// stays without positions in the profile.
func TestPositions(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	tl, _, _ := ndLayout.Field("ipv4_tl")
	win, _, _ := ndLayout.Field("tcp_wsize")
	for _, class := range []string{"ssh", "dns"} {
		cp := prof.Class(class)
		if len(cp.Positions) == 0 || len(cp.Positions) > PositionPackets {
			t.Fatalf("%s: %d positions", class, len(cp.Positions))
		}
		checked, kept := 0, 0
		for i, f := range flows[class] {
			m := encode(t, f)
			for r := 0; r < m.Rows; r++ {
				row := m.Row(r)
				if row[tl] == -1 {
					continue
				}
				row[tl+5] ^= 1 // +1024 or -1024 bytes: a length no packet here has
				row[tl+6] ^= 1
				if row[win] != -1 {
					row[win+2] ^= 1 // 8192 off the window
				}
			}
			for _, p := range []*Profile{prof, {Classes: map[string]*ClassProfile{class: stripped(cp)}}} {
				res, err := Flow(m, class, p, own(f), newRand(int64(i)))
				if err != nil {
					t.Fatal(err)
				}
				for k, pk := range res.Packets {
					if k >= len(cp.Positions) {
						break
					}
					info, err := t2t.ParseInfo(pk.Link, pk.Data)
					if err != nil {
						t.Fatal(err)
					}
					d := 1
					if info.Src == res.Client.Addr() {
						d = 0
					}
					th := 8
					if info.Proto == t2t.ProtoTCP {
						th = info.TCPDataOff
						if info.TCPFlags&(flagSYN|flagFIN|flagRST) != 0 {
							continue
						}
					}
					payload := info.IPLen - (info.TransOff - info.NetOff) - th
					if info.Proto == t2t.ProtoTCP && payload == 0 {
						continue
					}
					ok := known(cp.Positions[k].Payload[d], payload)
					if info.Proto == t2t.ProtoTCP {
						ok = ok && known(cp.Positions[k].Windows[d], int(info.TCPWindow))
					}
					if p == prof {
						checked++
						if !ok {
							t.Fatalf("%s flow %d packet %d: payload %d window %d, not what the class carries at that position (direction %d)", class, i, k, payload, info.TCPWindow, d)
						}
					} else if ok {
						kept++
					}
				}
			}
		}
		t.Logf("%s: %d damaged packets drawn to their position's values; without positions %d of them happen to be", class, checked, kept)
		if checked == 0 || kept > checked/2 {
			t.Fatalf("%s: %d packets checked, %d right without positions: test is vacuous", class, checked, kept)
		}
	}
}

// stripped is cp without its positions, steps, lengths and windows (its
// kinds' too).
func stripped(cp *ClassProfile) *ClassProfile {
	c := *cp
	c.Positions, c.IPLens, c.Windows, c.Steps, c.Kinds = nil, nil, [2][]Count{}, nil, nil
	return &c
}

// TestPositionsValidate: a profile whose positions hold impossible values
// or too many positions is refused, naming the position.
func TestPositionsValidate(t *testing.T) {
	prof := BuildProfile(committed(t))
	if err := prof.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mod  func(*ClassProfile)
		want string
	}{
		{"negative length", func(c *ClassProfile) { c.Positions[3].Payload[1] = []Count{{-5, 1}} }, "positions[3].payload"},
		{"window too big", func(c *ClassProfile) { c.Positions[0].Windows[0] = []Count{{70000, 1}} }, "positions[0].windows"},
		{"negative count", func(c *ClassProfile) { c.Positions[1].Payload[0] = []Count{{10, -1}} }, "positions[1].payload"},
		{"too many", func(c *ClassProfile) { c.Positions = make([]Position, PositionPackets+1) }, "positions"},
	} {
		bad := *prof.Classes["ssh"]
		bad.Positions = append([]Position(nil), bad.Positions...)
		c.mod(&bad)
		p := &Profile{Classes: map[string]*ClassProfile{"ssh": &bad}}
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}

// TestEndings: the profile learns how real TCP flows end; a real flow
// whose FIN and RST flags are cleared ends, with Options.End, with one of
// the class's endings (the last packets carry its flags and directions),
// and keeps its damage without it.
func TestEndings(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	cp := prof.Class("ssh")
	if len(cp.Endings) == 0 {
		t.Fatal("ssh: no endings learned")
	}
	total := cp.Unended
	for _, e := range cp.Endings {
		total += e.N
	}
	ended, checked := 0, 0
	for i, f := range flows["ssh"] {
		m := encode(t, f)
		fin, _, _ := ndLayout.Field("tcp_fin")
		rst, _, _ := ndLayout.Field("tcp_rst")
		for r := 0; r < m.Rows; r++ {
			if m.Row(r)[fin] == 1 || m.Row(r)[rst] == 1 {
				m.Row(r)[fin], m.Row(r)[rst] = 0, 0
			}
		}
		for _, end := range []bool{true, false} {
			o := own(f)
			o.End = end
			res, err := Flow(m, "ssh", prof, o, newRand(int64(i)))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range res.Packets[max(0, len(res.Packets)-EndPackets):] {
				info, _ := t2t.ParseInfo(p.Link, p.Data)
				if info.TCPFlags&(flagFIN|flagRST) != 0 {
					found = true
				}
			}
			if !end && found {
				t.Fatalf("flow %d: a FIN or RST without Options.End", i)
			}
			if end {
				checked++
				if found {
					ended++
				}
			}
		}
	}
	want := float64(total-cp.Unended) / float64(total)
	got := float64(ended) / float64(checked)
	t.Logf("ssh: %d of %d flows end with FIN or RST with Options.End (real share %.2f)", ended, checked, want)
	if checked == 0 || got < want-0.25 || got == 0 {
		t.Fatalf("ssh: %.2f of flows end with FIN or RST, real %.2f", got, want)
	}
	bad := *cp
	bad.Endings = []Ending{{Dirs: "01", Flags: []int{17}, Data: "0", N: 1}}
	if err := (&Profile{Classes: map[string]*ClassProfile{"ssh": &bad}}).Validate(); err == nil || !strings.Contains(err.Error(), "endings[0]") {
		t.Fatalf("bad ending: %v", err)
	}
}

// TestUnendedRST: a flow the profile's draw leaves unended loses the RSTs
// the model drew in its last packets, and those segments carry ACK (they
// used to be sent with no flag at all).
func TestUnendedRST(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	cp := *prof.Class("ssh")
	cp.Endings = []Ending{{Dirs: "1", Flags: []int{flagRST}, Data: "0", N: 0}}
	cp.Unended = 1
	p := &Profile{Classes: map[string]*ClassProfile{"ssh": &cp}}
	rst, _, _ := ndLayout.Field("tcp_rst")
	ack, _, _ := ndLayout.Field("tcp_ackf")
	fin, _, _ := ndLayout.Field("tcp_fin")
	checked := 0
	for i, f := range flows["ssh"] {
		m := encode(t, f)
		if m.Rows < 8 {
			continue
		}
		for r := m.Rows - 3; r < m.Rows; r++ {
			m.Row(r)[rst], m.Row(r)[ack], m.Row(r)[fin] = 1, 0, 0
		}
		o := own(f)
		o.End = true
		res, err := Flow(m, "ssh", p, o, newRand(int64(i)))
		if err != nil {
			t.Fatal(err)
		}
		for k, pk := range res.Packets[1:] {
			info, err := t2t.ParseInfo(pk.Link, pk.Data)
			if err != nil {
				t.Fatal(err)
			}
			if info.TCPFlags&flagRST != 0 || info.TCPFlags&flagACK == 0 {
				t.Fatalf("flow %d packet %d: flags %#02x, want ACK and no RST", i, k+1, info.TCPFlags)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no flow checked")
	}
}
