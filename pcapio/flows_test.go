package pcapio

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"t2t"
)

// TestFlowsMatchSummary compares flow counts with tshark's conversation
// counts in captures-seed42/SUMMARY.tsv (tcp_conv, udp_conv from
// `tshark -z conv,...`, icmp_echo_sessions from distinct (src, dst, id) of
// echo requests), with no idle timeout.
func TestFlowsMatchSummary(t *testing.T) {
	b, err := os.ReadFile(seedDir + "/SUMMARY.tsv")
	if err != nil {
		t.Skip("no " + seedDir)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	n := 0
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		tcp, _ := strconv.Atoi(f[4])
		udp, _ := strconv.Atoi(f[5])
		icmp, _ := strconv.Atoi(f[6])
		if f[0] == "icmp" {
			// icmp.pcap holds one more ICMP flow than echo sessions: six
			// time-exceeded messages, which carry no echo identifier and
			// so form the flow 10.77.0.1:0 <-> 10.77.0.2:0. (The file's
			// 395 non-first IPv4 fragments of large pings are left out
			// and counted in Stats.Fragments.)
			icmp++
		}
		flows, st, err := AssembleFile(filepath.Join(seedDir, f[1]), FlowOptions{IdleTimeout: -1, NewFlowOnSYN: true})
		if err != nil {
			t.Fatal(err)
		}
		count := map[uint8]int{}
		for _, fl := range flows {
			count[fl.Key.Proto]++
		}
		if count[t2t.ProtoTCP] != tcp || count[t2t.ProtoUDP] != udp || count[t2t.ProtoICMP] != icmp {
			t.Errorf("%s: tcp/udp/icmp flows %d/%d/%d, want %d/%d/%d", f[0], count[t2t.ProtoTCP], count[t2t.ProtoUDP], count[t2t.ProtoICMP], tcp, udp, icmp)
		}
		pk, _ := strconv.Atoi(f[3])
		if st.Packets != pk || st.Flowed+st.Skipped+st.Fragments != pk {
			t.Errorf("%s: stats %+v, file has %d packets", f[0], st, pk)
		}
		if f[0] == "icmp" && st.Fragments != 395 {
			t.Errorf("icmp: %d fragments, want 395", st.Fragments)
		}
		n++
	}
	if n != 14 {
		t.Errorf("%d classes in SUMMARY.tsv, want 14", n)
	}
}

// TestFlowInvariants checks keys, directions and ordering on real flows.
func TestFlowInvariants(t *testing.T) {
	for _, path := range testCaptures(t) {
		flows, st, err := AssembleFile(path, FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(flows) == 0 || st.Flows != len(flows) {
			t.Fatalf("%s: %d flows, stats %+v", path, len(flows), st)
		}
		bidir := 0
		var prev time.Time
		seen := map[int64]bool{}
		for _, f := range flows {
			if f.First().Before(prev) {
				t.Fatalf("%s: flow %v starts before the previous one", path, f.Key)
			}
			prev = f.First()
			if !f.Forward(0) {
				t.Fatalf("%s: first packet of %v is not forward", path, f.Key)
			}
			fwd, back := 0, 0
			for i, p := range f.Packets {
				seen[p.Offset] = true
				info, _ := t2t.ParseInfo(p.Link, p.Data)
				sp, dp := info.SrcPort, info.DstPort
				if info.Proto == t2t.ProtoICMP {
					sp, dp = info.ICMPID, info.ICMPID
				}
				src := netip.AddrPortFrom(info.Src, sp)
				k, _ := MakeFlowKey(info.Proto, src, netip.AddrPortFrom(info.Dst, dp))
				if k != f.Key {
					t.Fatalf("%s: packet of %v in flow %v", path, k, f.Key)
				}
				if f.Forward(i) != (src == f.Src) {
					t.Fatalf("%s: flow %v packet %d: wrong direction", path, f.Key, i)
				}
				if f.Forward(i) {
					fwd++
				} else {
					back++
				}
				if i > 0 && p.Offset <= f.Packets[i-1].Offset {
					t.Fatalf("%s: flow %v packets out of file order", path, f.Key)
				}
			}
			if fwd > 0 && back > 0 {
				bidir++
			}
			if f.Key.A != f.Src && f.Key.B != f.Src {
				t.Fatalf("initiator %v not an endpoint of %v", f.Src, f.Key)
			}
		}
		if len(seen) != st.Flowed {
			t.Fatalf("%s: %d distinct packets in flows, stats say %d", path, len(seen), st.Flowed)
		}
		// every capture is of request/response traffic
		if bidir*2 < len(flows) {
			t.Errorf("%s: only %d of %d flows carry both directions", path, bidir, len(flows))
		}
	}
}

func TestFlowsMaxPacketsAndIdle(t *testing.T) {
	path := "../testdata/captures/http-200.pcap"
	all, _, err := AssembleFile(path, FlowOptions{IdleTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	capped, st, err := AssembleFile(path, FlowOptions{IdleTimeout: -1, MaxPackets: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(capped) != len(all) {
		t.Fatalf("%d flows with MaxPackets, %d without", len(capped), len(all))
	}
	dropped := 0
	for i, f := range capped {
		want := all[i].Packets[:min(3, len(all[i].Packets))]
		samePackets(t, f.Key.String(), f.Packets, want)
		if f.Seen != len(all[i].Packets) {
			t.Fatalf("%v: Seen %d, want %d", f.Key, f.Seen, len(all[i].Packets))
		}
		dropped += f.Seen - len(f.Packets)
	}
	if dropped == 0 || st.Dropped != dropped {
		t.Fatalf("Stats.Dropped %d, want %d (> 0)", st.Dropped, dropped)
	}

	// A tiny idle timeout splits flows at every gap longer than it.
	const idle = 5 * time.Millisecond
	split, _, err := AssembleFile(path, FlowOptions{IdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range all {
		want++
		for i := 1; i < len(f.Packets); i++ {
			if f.Packets[i].Time.Sub(f.Packets[i-1].Time) > idle {
				want++
			}
		}
	}
	if len(split) != want || want == len(all) {
		t.Fatalf("%d flows with a %v idle timeout, want %d (unsplit %d)", len(split), idle, want, len(all))
	}
}

// TestFlowsNewFlowOnSYN replays one TCP connection twice on the same ports.
func TestFlowsNewFlowOnSYN(t *testing.T) {
	var conn *Flow
	for _, path := range testCaptures(t) {
		all, _, err := AssembleFile(path, FlowOptions{IdleTimeout: -1})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range all {
			if conn == nil && f.Key.Proto == t2t.ProtoTCP && f.Packets[0].Data[f.tcpFlagsOff(0)]&0x12 == 0x02 && f.tcpDone {
				conn = f
			}
		}
	}
	if conn == nil {
		t.Fatal("no complete TCP connection in the test captures")
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, t2t.LinkEthernet, WriterOptions{})
	last := conn.Last()
	for round := range 2 {
		for _, p := range conn.Packets {
			if round == 1 {
				p.Time = p.Time.Add(last.Sub(conn.First()) + time.Second)
			}
			w.Write(p)
		}
	}
	w.Flush()
	for _, syn := range []bool{false, true} {
		r, _ := NewReader(bytes.NewReader(buf.Bytes()))
		flows, _, err := Assemble(r, FlowOptions{IdleTimeout: -1, NewFlowOnSYN: syn})
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if syn {
			want = 2
		}
		if len(flows) != want || flows[0].Seen != 2*len(conn.Packets)/want {
			t.Fatalf("NewFlowOnSYN=%v: %d flows, want %d", syn, len(flows), want)
		}
	}
}

func (f *Flow) tcpFlagsOff(i int) int {
	info, _ := t2t.ParseInfo(f.Packets[i].Link, f.Packets[i].Data)
	return info.TransOff + 13
}

func TestAssembleUnsupportedLink(t *testing.T) {
	src := readFile(t, "../testdata/captures/dns-200.pcap")
	path := filepath.Join(t.TempDir(), "usb.pcap")
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, 189, WriterOptions{}) // LINKTYPE_USB_LINUX
	w.WritePacket(src[0].Time, src[0].Data)
	w.Flush()
	os.WriteFile(path, buf.Bytes(), 0o644)
	_, _, err := AssembleFile(path, FlowOptions{})
	var u *t2t.UnknownLinkTypeError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), path+": offset 24: cannot assemble flows") {
		t.Fatalf("error %v", err)
	}
}
