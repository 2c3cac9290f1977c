package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"t2t"
	"t2t/evaluate"
	"t2t/internal/cli"
	"t2t/internal/replaytest"
	"t2t/pcapio"
	"t2t/trace"
)

// The size of the traces of TestTrace and TestTraceReplay: small by
// default, to keep the tests fast; the figures of the README were made with
//
//	go test ./examples/trace -run 'TestTrace$|TestTraceReplay' -v -args -trace.flows 1000 -trace.span 60s [-trace.mix rate]
var (
	traceFlows = flag.Int("trace.flows", 100, "flows of the traces of TestTrace and TestTraceReplay")
	traceSpan  = flag.Duration("trace.span", 10*time.Second, "span of the traces of TestTrace and TestTraceReplay")
	traceMix   = flag.String("trace.mix", "even", "-mix of the trace of TestTrace")
)

// traceClasses are the classes of the test traces.
var traceClasses = "dns,http,ssh,ntp,icmp"

// label is one line of -labels.
type label struct {
	start, end     time.Time
	class, proto   string
	client, server netip.AddrPort
	packets        int
}

func readLabels(t *testing.T, path string) []label {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "start,end,class,transport,client,server,packets,prompt" {
		t.Fatalf("labels header %v", rows[:min(len(rows), 1)])
	}
	var out []label
	for _, r := range rows[1:] {
		var l label
		var err error
		if l.start, err = time.Parse(time.RFC3339Nano, r[0]); err != nil {
			t.Fatal(err)
		}
		if l.end, err = time.Parse(time.RFC3339Nano, r[1]); err != nil {
			t.Fatal(err)
		}
		l.class, l.proto = r[2], r[3]
		if l.client, err = netip.ParseAddrPort(r[4]); err != nil {
			t.Fatal(err)
		}
		if l.server, err = netip.ParseAddrPort(r[5]); err != nil {
			t.Fatal(err)
		}
		if l.packets, err = strconv.Atoi(r[6]); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// realStarts returns the gaps between the starts of each class's flows in
// the whole capture when present (thin 1), else in the held-out flows
// (every fifth flow of it: thin 4, see trace's TestPlanArrivals).
func realStarts(t *testing.T) (map[string][]float64, int, string) {
	t.Helper()
	dir, thin := "../../../shared/data/captures-seed42", 1
	if _, err := os.Stat(dir); err != nil {
		dir, thin = "../../testdata/heldout", 4
	}
	ds, err := pcapio.LoadDataset(dir, pcapio.FlowOptions{MaxPackets: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for _, c := range ds.Classes {
		out[c] = trace.Gaps(trace.Starts(ds.Flows[c]))
	}
	return out, thin, dir
}

func thinGaps(g []float64, k int) []float64 {
	var out []float64
	for i := 0; i+k <= len(g); i += k {
		s := 0.0
		for _, x := range g[i : i+k] {
			s += x
		}
		out = append(out, s)
	}
	return out
}

// TestTrace makes a trace of five classes with the embedded model
// (-trace.flows over -trace.span, split evenly by default) and judges it: evaluate's
// compliance, tshark with checksum validation, the flows read back apart
// as the labels list them, no two flows on one 5-tuple at once, one MAC per
// IP and one IP per MAC (read with gopacket), the clients used, each
// class's gaps against the real captures' (GapJSD) and flows 50 ms
// apart's; the same seed gives the same bytes.
func TestTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the Small model")
	}
	dir := t.TempDir()
	var pcaps [][]byte
	var stdout strings.Builder
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		out, labels := filepath.Join(dir, fmt.Sprint(k, ".pcap")), filepath.Join(dir, fmt.Sprint(k, ".csv"))
		args := []string{"-classes", traceClasses, "-flows", fmt.Sprint(*traceFlows), "-span", traceSpan.String(), "-mix", *traceMix,
			"-seed", "1", "-out", out, "-labels", labels}
		stdout.Reset()
		if err := run(context.Background(), args, &stdout, io.Discard); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		pcaps = append(pcaps, b)
		l, _ := os.ReadFile(labels)
		pcaps = append(pcaps, l)
		if k == 0 {
			t.Logf("%s (%v)", strings.TrimSpace(stdout.String()), time.Since(t0).Round(time.Second))
		}
	}
	if !bytes.Equal(pcaps[0], pcaps[2]) || !bytes.Equal(pcaps[1], pcaps[3]) {
		t.Error("same seed, different trace")
	}
	path, labels := filepath.Join(dir, "0.pcap"), readLabels(t, filepath.Join(dir, "0.csv"))
	if len(labels) != *traceFlows {
		t.Errorf("%d flows labelled, %d asked", len(labels), *traceFlows)
	}

	// compliance and tshark
	c, err := evaluate.CheckFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors() != 0 || c.Packets == 0 {
		t.Errorf("compliance: %d problems in %d packets: %s", c.Errors(), c.Packets, strings.Join(c.Problems[:min(len(c.Problems), 5)], "; "))
	}
	if bad, ok := tsharkBad(t, path); ok {
		if len(bad) > 0 {
			t.Errorf("tshark flags %d packets:\n%s", len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"))
		}
		t.Logf("tshark with checksum validation: %d packets flagged", len(bad))
	}

	// flows read back apart, as labelled; 5-tuples never shared at once
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != len(labels) {
		t.Errorf("%d flows read back, %d labelled", len(flows), len(labels))
	}
	type key struct {
		proto          string
		client, server netip.AddrPort
	}
	byKey := map[key][]label{}
	for _, l := range labels {
		k := key{l.proto, l.client, l.server}
		byKey[k] = append(byKey[k], l)
	}
	for _, f := range flows {
		k := key{t2t.TransportName(f.Key.Proto), f.Src, f.Key.A}
		if k.server == f.Src {
			k.server = f.Key.B
		}
		found := false
		for _, l := range byKey[k] {
			found = found || l.start.Equal(f.First()) && l.end.Equal(f.Last()) && l.packets == len(f.Packets)
		}
		if !found {
			t.Errorf("flow %v from %v to %v (%d packets) read back is no labelled flow", f.Key, f.First(), f.Last(), len(f.Packets))
		}
	}
	overlaps := 0
	for k, ls := range byKey {
		sort.Slice(ls, func(i, j int) bool { return ls[i].start.Before(ls[j].start) })
		for i := 1; i < len(ls); i++ {
			if !ls[i].start.After(ls[i-1].end) {
				overlaps++
				t.Errorf("%v: flows %v-%v and %v-%v overlap", k, ls[i-1].start, ls[i-1].end, ls[i].start, ls[i].end)
			}
		}
	}

	// MACs, read with gopacket
	macs, ips := macCoherence(t, path)
	clients := map[netip.Addr]bool{}
	for _, l := range labels {
		clients[l.client.Addr()] = true
	}
	t.Logf("%d flows, %d packets, %d distinct clients, %d servers, %d 5-tuples shared at once, %d IPs with more than one MAC, %d MACs with more than one IP",
		len(labels), c.Packets, len(clients), countServers(labels), overlaps, macs, ips)
	if macs != 0 || ips != 0 {
		t.Errorf("%d IPs with several MACs, %d MACs with several IPs", macs, ips)
	}
	if want := min(50, *traceFlows/3); len(clients) < want {
		t.Errorf("%d distinct clients, want %d or more of the 50", len(clients), want)
	}

	// arrivals against the real captures
	real, thin, realDir := realStarts(t)
	starts := map[string][]time.Time{}
	for _, l := range labels {
		starts[l.class] = append(starts[l.class], l.start)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	sum, n := 0.0, 0
	for _, class := range strings.Split(traceClasses, ",") {
		ts := starts[class]
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		gen := thinGaps(trace.Gaps(ts), thin)
		poisson, constant := make([]float64, len(gen)), make([]float64, len(gen))
		for i := range gen {
			poisson[i], constant[i] = rng.ExpFloat64(), 0.05
		}
		d, dp, dc := trace.GapJSD(gen, real[class]), trace.GapJSD(poisson, real[class]), trace.GapJSD(constant, real[class])
		t.Logf("%-5s %3d flows: gap JSD %.3f against %s (Poisson %.3f, 50 ms apart %.3f), CV %.2f (real %.2f)",
			class, len(ts), d, realDir, dp, dc, trace.CV(gen), trace.CV(real[class]))
		if thin == 1 && d >= dc {
			t.Errorf("%s: gaps at JSD %.3f from the capture's, flows 50 ms apart at %.3f", class, d, dc)
		}
		sum += d
		n++
	}
	if thin == 1 && sum/float64(n) > 0.2 {
		t.Errorf("mean gap JSD %.3f over the classes, want at most 0.2", sum/float64(n))
	}
	if thin != 1 {
		t.Logf("../shared/data/captures-seed42 absent: %d gaps a class against the held-out flows say little; not judged", len(starts["dns"])/thin)
	}
}

func countServers(ls []label) int {
	s := map[netip.Addr]bool{}
	for _, l := range ls {
		s[l.server.Addr()] = true
	}
	return len(s)
}

// macCoherence counts, over a pcap's Ethernet/IP packets read with
// gopacket, the IPs seen with more than one MAC and the MACs seen with
// more than one IP.
func macCoherence(t *testing.T, path string) (ipsWithMACs, macsWithIPs int) {
	t.Helper()
	r, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	byIP, byMAC := map[string]map[string]bool{}, map[string]map[string]bool{}
	add := func(ip, mac string) {
		if byIP[ip] == nil {
			byIP[ip] = map[string]bool{}
		}
		if byMAC[mac] == nil {
			byMAC[mac] = map[string]bool{}
		}
		byIP[ip][mac], byMAC[mac][ip] = true, true
	}
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pk := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		eth, _ := pk.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip, _ := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if eth == nil || ip == nil {
			t.Fatalf("packet at offset %d: not Ethernet and IPv4", p.Offset)
		}
		add(ip.SrcIP.String(), eth.SrcMAC.String())
		add(ip.DstIP.String(), eth.DstMAC.String())
	}
	for _, m := range byIP {
		if len(m) != 1 {
			ipsWithMACs++
		}
	}
	for _, m := range byMAC {
		if len(m) != 1 {
			macsWithIPs++
		}
	}
	return ipsWithMACs, macsWithIPs
}

// tsharkBad runs tshark with checksum validation over path (as repair's
// tests do) and returns the lines of packets that are malformed, carry an
// expert error or a bad checksum; ok is false when tshark is absent.
func tsharkBad(t *testing.T, path string) (lines []string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark not installed: not run")
		return nil, false
	}
	filter := `_ws.malformed || _ws.expert.severity == error || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"`
	out, err := exec.Command(bin, "-n", "-r", path, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", filter).Output()
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

// TestTraceReplay writes a trace with -payload zeros and replays it on the
// loopback with tcpreplay (as fast as it goes): every packet is sent, whole
// (the bytes sent are the wire lengths). Skipped without tcpreplay or the
// right to send.
func TestTraceReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the Small model")
	}
	out := filepath.Join(t.TempDir(), "zeros.pcap")
	n := max(*traceFlows/4, 5)
	if err := run(context.Background(), []string{"-classes", traceClasses, "-flows", fmt.Sprint(n), "-span", traceSpan.String(), "-payload", "zeros", "-out", out, "-q"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	r := replaytest.Replay(t, out, "--topspeed")
	if r.Bytes != r.Wire || r.Stored != r.Wire {
		t.Errorf("%d bytes sent, %d stored, packets' wire lengths sum to %d: not sent whole", r.Bytes, r.Stored, r.Wire)
	}
	t.Logf("%d flows: tcpreplay sent %d of %d packets, %d bytes (wire lengths %d), %d failed, %d truncated", n, r.Sent, r.Packets, r.Bytes, r.Wire, r.Failed, r.Truncated)
}

// TestFlags: bad values are usage errors (exit status 2) found before any
// work, naming the flag; -h is not an error.
func TestFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.pcap")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-flows", "-1"}, "-flows -1"},
		{[]string{"-span", "-1s"}, "-span -1s"},
		{[]string{"-flows", "0", "-span", "0"}, "give the flows, the span or both"},
		{[]string{"-steps", "0"}, "-steps 0"},
		{[]string{"-batch", "0"}, "-batch 0"},
		{[]string{"-mix", "zipf"}, `-mix "zipf"`},
		{[]string{"-payload", "bits"}, `-payload "bits"`},
		{[]string{"-classes", ""}, "-classes is required"},
		{[]string{"-classes", "dns,,ssh"}, "want names separated by commas"},
		{[]string{"-topology", `{"clients": 0.5}`}, "-topology"},
		{[]string{"-topology", `{"clients": 300}`}, "do not fit"},
		{[]string{"-guidance", "NaN"}, "-guidance"},
		{[]string{"-classes", "dns,nope", "-flows", "2"}, `"nope" is not a class of the model`},
		{[]string{"-classes", "dns,type-0", "-flows", "2"}, "dns given twice"},
		{[]string{"-mix", "even", "-flows", "1", "-classes", "dns,ssh"}, "-flows 1: want one or more per class"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		err := run(context.Background(), append(c.args, "-out", out, "-q"), io.Discard, io.Discard)
		if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want a usage error with %q", c.args, err, cli.ExitCode(err), c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-out", filepath.Join(dir, "no", "t.pcap")}, "-out"},
		{[]string{"-topology", filepath.Join(dir, "none.json")}, "-topology"},
		{[]string{"-arrivals", filepath.Join(dir, "none.json")}, "-arrivals"},
		{[]string{"-model", filepath.Join(dir, "none")}, "-model"},
	} {
		err := run(context.Background(), append(c.args, "-q"), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("a bad command line wrote the pcap")
	}
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); cli.ExitCode(err) != 0 {
		t.Errorf("-h: %v", err)
	}
}

// TestArrivalsFlag: -arrivals takes a JSON file or a data set folder to
// learn from, and a class they lack is an error naming it; -topology takes
// a file; -flows 0 runs at the learned rate over -span.
func TestArrivalsFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("samples the Small model")
	}
	dir := t.TempDir()
	a := trace.Default()
	delete(a.Classes, "ssh")
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "arrivals.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	topo := filepath.Join(dir, "topo.json")
	os.WriteFile(topo, []byte(`{"clients": 3, "servers": {"ntp": "10.9.0.1"}}`), 0o644)
	out, labels := filepath.Join(dir, "t.pcap"), filepath.Join(dir, "t.csv")
	common := []string{"-steps", "1", "-out", out, "-labels", labels, "-q"}
	err = run(context.Background(), append([]string{"-arrivals", file, "-classes", "dns,ssh", "-flows", "4"}, common...), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `no arrival process for class "ssh"`) {
		t.Errorf("ssh without arrivals: %v", err)
	}
	// learned from a data set folder at the learned rate over 2 s, on a
	// topology from a file
	var stdout strings.Builder
	if err := run(context.Background(), append([]string{"-arrivals", "../../testdata/heldout", "-classes", "ntp,dns", "-flows", "0", "-span", "2s", "-topology", topo}, common[:len(common)-1]...), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	ls := readLabels(t, labels)
	per := map[string]int{}
	for _, l := range ls {
		per[l.class]++
		if l.class == "ntp" && l.server.Addr() != netip.MustParseAddr("10.9.0.1") || !netip.MustParsePrefix("10.1.0.0/30").Contains(l.client.Addr()) {
			t.Errorf("flow %+v: not on the topology", l)
		}
	}
	// held-out rates: dns 3.2, ntp 1.3 flows per second
	if per["dns"] < 3 || per["dns"] > 12 || per["ntp"] < 1 || per["ntp"] > 6 {
		t.Errorf("flows over 2 s at the held-out rates: %v", per)
	}
	t.Log(strings.TrimSpace(stdout.String()))
}
