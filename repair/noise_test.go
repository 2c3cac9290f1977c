package repair

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"t2t"
	"t2t/evaluate"
	"t2t/pcapio"
)

// corruption is one way of damaging a real flow's matrix.
type corruption struct {
	name string
	fn   func(m *t2t.Matrix, rng *rand.Rand, other *t2t.Matrix)
}

// flip flips each non-vacant bit with probability p.
func flip(p float64) func(m *t2t.Matrix, rng *rand.Rand, _ *t2t.Matrix) {
	return func(m *t2t.Matrix, rng *rand.Rand, _ *t2t.Matrix) {
		for i, v := range m.Bits {
			if v >= 0 && rng.Float64() < p {
				m.Bits[i] = 1 - v
			}
		}
	}
}

func fieldSet(m *t2t.Matrix, r int, name string, rng *rand.Rand, vals ...int8) {
	c, n, ok := m.Layout.Field(name)
	if !ok {
		return
	}
	for j := 0; j < n; j++ {
		m.SetBit(r, c+j, vals[rng.IntN(len(vals))])
	}
}

var corruptions = []corruption{
	{"flip1%", flip(0.01)},
	{"flip5%", flip(0.05)},
	{"flags", func(m *t2t.Matrix, rng *rand.Rand, _ *t2t.Matrix) {
		// random TCP flags (and ICMP types, UDP lengths) on a third of the rows
		for r := 0; r < m.Rows; r++ {
			if rng.IntN(3) != 0 {
				continue
			}
			for _, f := range []string{"tcp_cwr", "tcp_ece", "tcp_urg", "tcp_ackf", "tcp_psh", "tcp_rst", "tcp_syn", "tcp_fin", "tcp_ns"} {
				if v, _ := rowGet(m, r, f); v >= 0 {
					fieldSet(m, r, f, rng, 0, 1)
				}
			}
			if v, _ := rowGet(m, r, "icmp_type"); v >= 0 {
				fieldSet(m, r, "icmp_type", rng, 0, 1)
			}
			if v, _ := rowGet(m, r, "udp_len"); v >= 0 {
				fieldSet(m, r, "udp_len", rng, 0, 1)
			}
		}
	}},
	{"mixing", func(m *t2t.Matrix, rng *rand.Rand, other *t2t.Matrix) {
		// another protocol's header bits in some rows, other flows' rows in others
		for r := 0; r < m.Rows; r++ {
			switch rng.IntN(5) {
			case 0:
				for _, f := range []string{"udp_sport", "udp_dport", "udp_len", "udp_cksum", "icmp_type", "tcp_seq", "tcp_sprt"} {
					if rng.IntN(2) == 0 {
						fieldSet(m, r, f, rng, 0, 1)
					}
				}
			case 1:
				if other != nil && other.Rows > 0 {
					copy(m.Row(r), other.Row(rng.IntN(other.Rows)))
				}
			}
		}
	}},
	{"vacant", func(m *t2t.Matrix, rng *rand.Rand, _ *t2t.Matrix) {
		// vacant bits inside headers, options garbage, padding rows
		for i, v := range m.Bits {
			if v >= 0 && rng.Float64() < 0.03 {
				m.Bits[i] = -1
			}
		}
		for r := 0; r < m.Rows; r++ {
			if rng.IntN(4) == 0 {
				fieldSet(m, r, "tcp_opt", rng, 0, 1, -1)
			}
			if rng.IntN(8) == 0 {
				fieldSet(m, r, "ipv4_hl", rng, 0, 1)
				fieldSet(m, r, "tcp_doff", rng, 0, 1)
			}
		}
		for k := 0; k < 8; k++ {
			m.AppendRow(t2t.NewMatrix(m.Layout, 1).Row(0), m.Times[m.Rows-1])
		}
	}},
}

func rowGet(m *t2t.Matrix, r int, name string) (int8, bool) {
	c, _, ok := m.Layout.Field(name)
	if !ok {
		return -1, false
	}
	return m.Bit(r, c), true
}

// appProtocols are the application dissectors that read the payload of
// the classes' ports (tshark 4.0 has no "disable all").
var appProtocols = []string{"dns", "mdns", "llmnr", "ntp", "ssh", "sip", "http", "http2", "tls", "mqtt",
	"resp", "pgsql", "rtp", "rtcp", "quic", "ssdp", "nbns", "snmp"}

// tsharkBad runs tshark with checksum validation over path and returns
// the lines of packets that are malformed, carry an expert error or a bad
// checksum. ok is false when tshark is not installed.
func tsharkBad(t *testing.T, path string, transportOnly bool) (lines []string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		return nil, false
	}
	args := []string{"-n", "-r", path}
	if transportOnly {
		for _, p := range appProtocols {
			args = append(args, "--disable-protocol="+p)
		}
	}
	filter := `_ws.malformed || _ws.expert.severity == error || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"`
	if transportOnly {
		// whole packets: an application dissector of a port no list can
		// foresee may read the invented payload; the headers are checked
		// for malformation on the cut copy, here only the checksums
		filter = `ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"`
	}
	cmd := exec.Command(bin, append(args,
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", filter)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, true
}

// checkWritten writes results to a pcap and checks it: evaluate's
// compliance (decode, checksums, TCP state machine with handshakes) and,
// when installed, tshark.
func checkWritten(t *testing.T, name string, results []*Result) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".pcap")
	if err := WritePcap(path, results); err != nil {
		t.Fatal(err)
	}
	c, err := evaluate.CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors() != 0 || c.Packets == 0 {
		t.Errorf("%s: %d compliance errors in %d packets: %+v\n%s", name, c.Errors(), c.Packets, c.TCP, strings.Join(c.Problems, "\n"))
	}
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{IdleTimeout: -1, NewFlowOnSYN: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != len(results) {
		t.Errorf("%s: %d flows read back, %d written", name, len(flows), len(results))
	}
	// IP, TCP, UDP and ICMP (what repair writes) must be clean.
	if lines, ok := tsharkBad(t, path, true); ok && len(lines) > 0 {
		if len(lines) > 10 {
			lines = lines[:10]
		}
		t.Errorf("%s: tshark flags packets:\n%s", name, strings.Join(lines, "\n"))
	}
	// Cut after their headers (what examples/generate writes by default),
	// the packets must be clean with every dissector on.
	var cut []pcapio.Packet
	for _, p := range Merge(results) {
		cut = append(cut, CutPayload(p))
	}
	cpath := filepath.Join(t.TempDir(), name+"-snap.pcap")
	f, err := os.Create(cpath)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := pcapio.NewWriter(f, t2t.LinkEthernet, pcapio.WriterOptions{})
	for _, p := range cut {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	f.Close()
	if lines, ok := tsharkBad(t, cpath, false); ok && len(lines) > 0 {
		if len(lines) > 10 {
			lines = lines[:10]
		}
		t.Errorf("%s (cut after the headers): tshark flags packets:\n%s", name, strings.Join(lines, "\n"))
	}
	// Whole packets with every dissector on: application dissectors (DNS,
	// NTP, SSH...) read the zero payload bytes, which the layout does not
	// carry, and may call them malformed: counted, not failed.
	if lines, ok := tsharkBad(t, path, false); ok {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, "Checksum") || strings.Contains(l, "checksum") {
				t.Errorf("%s: tshark: %s", name, l)
			}
			n++
		}
		t.Logf("%s: %d packets flagged by application dissectors (payload bytes unknown)", name, n)
	}
}

// TestNoisyRealFlows damages real flows in several ways and checks that
// every repaired flow is valid.
func TestNoisyRealFlows(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	classes := make([]string, 0, len(flows))
	for c := range flows {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, cor := range corruptions {
		var results []*Result
		bits, kept, n := 0, 0, 0
		for ci, class := range classes {
			other := encode(t, flows[classes[(ci+1)%len(classes)]][0])
			for i, f := range flows[class] {
				rng := newRand(int64(1000*ci + i))
				m := encode(t, f)
				cor.fn(m, rng, other)
				opts := Options{FlowIndex: len(results)}
				if i%2 == 1 {
					m.Times = nil // draw times from the profile
				}
				res, err := Flow(m, class, prof, opts, rng)
				if err != nil {
					t.Fatalf("%s %s flow %d: %v", cor.name, class, i, err)
				}
				results = append(results, res)
				bits += res.Log.BitsChanged
				kept += res.Log.BitsKept
				n++
			}
		}
		checkWritten(t, cor.name, results)
		t.Logf("%-8s %3d flows: mean %.1f bits changed per flow (%.3f%% of kept bits)", cor.name, n,
			float64(bits)/float64(n), 100*float64(bits)/float64(max(kept, 1)))
	}
}

// TestNoisySeed42 runs the 5% flips on the 14-class data set when present.
func TestNoisySeed42(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	flows := seed42(t)
	prof := BuildProfile(flows)
	var results []*Result
	classes := make([]string, 0, len(flows))
	for c := range flows {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for ci, class := range classes {
		for i, f := range flows[class] {
			if i >= 20 {
				break
			}
			rng := newRand(int64(ci*100 + i))
			m := encode(t, f)
			flip(0.05)(m, rng, nil)
			res, err := Flow(m, class, prof, Options{FlowIndex: len(results)}, rng)
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, res)
		}
	}
	checkWritten(t, "seed42-flip5", results)
}

// TestNoise: matrices of pure noise still give valid flows.
func TestNoise(t *testing.T) {
	prof := BuildProfile(committed(t))
	var results []*Result
	for i := 0; i < 60; i++ {
		rng := newRand(int64(i))
		m := t2t.NewMatrix(ndLayout, 1+rng.IntN(40))
		for k := range m.Bits {
			m.Bits[k] = int8(rng.IntN(3) - 1)
		}
		class := []string{"http", "dns", "icmp", "ssh", "nosuchclass"}[i%5]
		var p *Profile
		if i%3 != 0 {
			p = prof
		}
		res, err := Flow(m, class, p, Options{FlowIndex: i}, rng)
		if err != nil {
			t.Fatalf("noise %d: %v", i, err)
		}
		results = append(results, res)
	}
	checkWritten(t, "noise", results)
	// nothing usable: an error, not a flow
	if _, err := Flow(t2t.NewMatrix(ndLayout, 10), "http", prof, Options{}, newRand(1)); err != ErrEmpty {
		t.Errorf("vacant matrix: err %v, want ErrEmpty", err)
	}
	sparse := t2t.NewMatrix(ndLayout, 10)
	for k := range sparse.Bits {
		if k%97 == 0 {
			sparse.Bits[k] = 1
		}
	}
	if _, err := Flow(sparse, "http", prof, Options{}, newRand(1)); err != ErrEmpty {
		t.Errorf("speckled matrix: err %v, want ErrEmpty", err)
	}
}

// TestTsharkNegativeControl: the tshark filter flags a bad checksum.
func TestTsharkNegativeControl(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	flows := committed(t)
	f := flows["http"][0]
	res, err := Flow(encode(t, f), "http", nil, Options{}, newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	bad := res.Packets[3].Clone()
	bad.Data[14+20+16] ^= 0x55 // TCP checksum
	res.Packets[3] = bad
	path := filepath.Join(t.TempDir(), "bad.pcap")
	if err := WritePcap(path, []*Result{res}); err != nil {
		t.Fatal(err)
	}
	lines, _ := tsharkBad(t, path, true)
	if len(lines) != 1 {
		t.Fatalf("tshark flagged %d packets, want 1: %v", len(lines), lines)
	}
	c, err := evaluate.CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.BadChecksums != 1 {
		t.Errorf("evaluate: %d bad checksums, want 1", c.BadChecksums)
	}
}
