//go:build libpcap

package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"t2t"
	"t2t/internal/cli"
	"t2t/pcapio"
)

// keyed returns the header and the rows of a -O 4 CSV whose flow key
// (src_dst_sport_dport_PROTO) matches re.
func keyed(csv string, re *regexp.Regexp) string {
	lines := strings.SplitAfter(csv, "\n")
	out := lines[0]
	for _, l := range lines[1:] {
		key, _, _ := strings.Cut(l, ",")
		if l != "" && re.MatchString(key) {
			out += l
		}
	}
	return out
}

// tsharkCount counts the packets of a capture that a tshark display
// filter keeps, IP fragments not reassembled (BPF sees each fragment on
// its own: a port matches in the first only); ok is false without
// tshark.
func tsharkCount(t *testing.T, path, filter string) (n int, ok bool) {
	if _, err := exec.LookPath("tshark"); err != nil {
		return 0, false
	}
	out, err := exec.Command("tshark", "-n", "-o", "ip.defragment:FALSE", "-r", path, "-Y", filter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", filter, err)
	}
	return len(strings.Fields(string(out))), true
}

// TestFilter: -f keeps exactly the packets libpcap's filter keeps: on the
// committed captures, the rows of the unfiltered CSV whose flow key the
// expression describes, as many as tshark's equivalent display filter
// keeps; -S counts only those; -c counts after the filter.
func TestFilter(t *testing.T) {
	for _, c := range []struct {
		expr, key, tshark string
	}{
		{"udp port 53", `^\S+_\S+_(53_\d+|\d+_53)_UDP$`, "udp.port == 53"},
		{"tcp", `_TCP$`, "ip.proto == 6"},
		{"tcp and dst port 6379", `^\S+_\S+_\d+_6379_TCP$`, "tcp.dstport == 6379"},
		{"icmp", `_NULL_NULL_NULL$`, "ip.proto == 1"}, // every fragment, as BPF's icmp
		{"not udp", `_(TCP|NULL)$`, "not ip.proto == 17"},
	} {
		for _, class := range classes {
			in := "../../testdata/captures/" + class + "-200.pcap"
			all := runOut(t, "-P", in, "-4", "-t", "-u", "-i", "-O", "4")
			want := keyed(all, regexp.MustCompile(c.key))
			var got, stderr bytes.Buffer
			if err := run([]string{"-P", in, "-4", "-t", "-u", "-i", "-O", "4", "-f", c.expr, "-S"}, &got, &stderr); err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Fatalf("%s -f %q: %d rows, want the %d rows keyed %s", class, c.expr, strings.Count(got.String(), "\n")-1, strings.Count(want, "\n")-1, c.key)
			}
			rows := strings.Count(want, "\n") - 1
			if n, ok := tsharkCount(t, in, c.tshark); ok && n != rows {
				t.Fatalf("%s -f %q: %d rows, tshark -Y %q keeps %d packets", class, c.expr, rows, c.tshark, n)
			}
			if !regexp.MustCompile(`Packets processed: +` + strconv.Itoa(rows) + "\n").MatchString(stderr.String()) {
				t.Fatalf("%s -f %q -S: %s", class, c.expr, stderr.String())
			}
			if rows > 3 {
				if n := strings.Count(runOut(t, "-P", in, "-4", "-u", "-t", "-i", "-f", c.expr, "-c", "3"), "\n"); n != 4 {
					t.Fatalf("%s -f %q -c 3: %d lines", class, c.expr, n)
				}
			}
		}
	}
}

// TestFilterRawIP: the filter runs on captures of other link types (here
// raw IP, LINKTYPE_RAW 101, which libpcap calls DLT_RAW 12).
func TestFilterRawIP(t *testing.T) {
	ps := readPcapFull(t, dnsPcap)
	for i := range ps {
		ps[i].Data, ps[i].OrigLen, ps[i].Link = ps[i].Data[14:], ps[i].OrigLen-14, t2t.LinkRaw
	}
	raw := filepath.Join(t.TempDir(), "raw.pcap")
	if err := pcapio.WriteFile(raw, t2t.LinkRaw, ps, pcapio.WriterOptions{}); err != nil {
		t.Fatal(err)
	}
	want := runOut(t, "-P", dnsPcap, "-4", "-t", "-u", "-i", "-f", "udp port 53")
	if got := runOut(t, "-P", raw, "-4", "-t", "-u", "-i", "-f", "udp port 53"); got != want || strings.Count(got, "\n") < 50 {
		t.Fatalf("raw IP: %d lines, Ethernet %d", strings.Count(got, "\n"), strings.Count(want, "\n"))
	}
}

// TestFilterBadExpression: an expression libpcap cannot compile is a
// usage error naming -f, before anything is read.
func TestFilterBadExpression(t *testing.T) {
	err := run([]string{"-P", dnsPcap, "-4", "-f", "udp prot 53"}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), `-f "udp prot 53"`) || cli.ExitCode(err) != 2 {
		t.Fatalf("bad expression: %v (exit %d)", err, cli.ExitCode(err))
	}
}
