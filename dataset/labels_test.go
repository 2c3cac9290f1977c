package dataset

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"t2t/internal/fuzzseed"
)

const hdr = "pcap\tflow_no\tl4\tsrc\tdst\tndpi_proto\tapp\tcategory\tpkts_c2s\tbytes_c2s\tpkts_s2c\tbytes_s2c\n"

// TestReadFlowLabels reads nDPI's rows: IPv4, bracketed IPv6, ICMP with
// port 0, an empty category, CRLF line ends and a blank line.
func TestReadFlowLabels(t *testing.T) {
	in := hdr +
		"1kxun.pcap\t1\tTCP\t192.168.2.126:45380\t161.117.13.29:80\tHTTP.1kxun\t1kxun\tStreaming\t7\t4845\t73\t178280\r\n" +
		"\n" +
		"1kxun.pcap\t34\tUDP\t[fe80::9bd:81dd:2fdc:5750]:1900\t[ff02::c]:1900\tSSDP\tSSDP\tSystem\t16\t8921\t0\t0\n" +
		"a/b.pcapng\t2\tICMP\t10.24.82.188:0\t10.188.191.1:0\tICMP\tICMP\tNetwork\t1\t147\t0\t0\n" +
		"x.pcap\t3\tudp\tfe80::1:546\tff02::1:2:547\tUnknown\tUnknown\t\t5\t490\t0\t0"
	got, err := ReadFlowLabels(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []FlowLabel{
		{Pcap: "1kxun.pcap", FlowNo: 1, L4: "TCP", Proto: 6, Src: netip.MustParseAddrPort("192.168.2.126:45380"), Dst: netip.MustParseAddrPort("161.117.13.29:80"),
			NDPIProto: "HTTP.1kxun", App: "1kxun", Category: "Streaming", PktsC2S: 7, BytesC2S: 4845, PktsS2C: 73, BytesS2C: 178280, Line: 2},
		{Pcap: "1kxun.pcap", FlowNo: 34, L4: "UDP", Proto: 17, Src: netip.MustParseAddrPort("[fe80::9bd:81dd:2fdc:5750]:1900"), Dst: netip.MustParseAddrPort("[ff02::c]:1900"),
			NDPIProto: "SSDP", App: "SSDP", Category: "System", PktsC2S: 16, BytesC2S: 8921, Line: 4},
		{Pcap: "a/b.pcapng", FlowNo: 2, L4: "ICMP", Proto: 1, Src: netip.MustParseAddrPort("10.24.82.188:0"), Dst: netip.MustParseAddrPort("10.188.191.1:0"),
			NDPIProto: "ICMP", App: "ICMP", Category: "Network", PktsC2S: 1, BytesC2S: 147, Line: 5},
		{Pcap: "x.pcap", FlowNo: 3, L4: "udp", Proto: 17, Src: netip.MustParseAddrPort("[fe80::1]:546"), Dst: netip.MustParseAddrPort("[ff02::1:2]:547"),
			NDPIProto: "Unknown", App: "Unknown", PktsC2S: 5, BytesC2S: 490, Line: 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	// Columns in another order, an extra one: the same labels.
	perm := "extra\tapp\tpcap\tl4\tsrc\tdst\tflow_no\tndpi_proto\tcategory\tbytes_s2c\tpkts_s2c\tbytes_c2s\tpkts_c2s\n" +
		"zz\t1kxun\t1kxun.pcap\tTCP\t192.168.2.126:45380\t161.117.13.29:80\t1\tHTTP.1kxun\tStreaming\t178280\t73\t4845\t7\n"
	got, err = ReadFlowLabels(strings.NewReader(perm))
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], want[0]) {
		t.Fatalf("permuted columns: %+v, %v", got, err)
	}
	var b bytes.Buffer
	if err := WriteFlowLabels(&b, want); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFlowLabels(&b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range back {
		back[i].Line, want[i].Line = 0, 0
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("WriteFlowLabels, ReadFlowLabels: %+v", back)
	}
}

// TestReadFlowLabelsErrors: every malformed row or header gives a
// *LabelError naming its line and, for a field, its column.
func TestReadFlowLabelsErrors(t *testing.T) {
	good := "a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n"
	for _, c := range []struct {
		name, in, want string // want: a regexp the error matches
	}{
		{"empty", "", `line 1: no header line`},
		{"blank header", "\n" + good, `line 1: empty header line`},
		{"header lacks columns", "pcap\tl4\tsrc\tdst\n", `line 1: header lacks column\(s\) flow_no, ndpi_proto`},
		{"header twice", strings.TrimSuffix(hdr, "\n") + "\tapp\n", `line 1: header names column "app" twice`},
		{"fields", hdr + good + "a.pcap\t1\tTCP\n", `line 3: 3 tab-separated fields, want 12`},
		{"pcap empty", hdr + "\t1\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `line 2, column pcap \(1\): "": empty capture name`},
		{"pcap escapes", hdr + "../a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `line 2, column pcap \(1\): "../a.pcap": not a clean relative`},
		{"pcap absolute", hdr + "/etc/a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `column pcap \(1\)`},
		{"flow_no", hdr + good + "a.pcap\tone\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `line 3, column flow_no \(2\): "one"`},
		{"l4", hdr + "a.pcap\t1\tQUUX\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `line 2, column l4 \(3\): "QUUX": unknown transport`},
		{"l4 number", hdr + "a.pcap\t1\t256\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `column l4 \(3\): "256"`},
		{"src no port", hdr + "a.pcap\t1\tTCP\t10.0.0.1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `line 2, column src \(4\): "10.0.0.1": want ip:port`},
		{"src port", hdr + "a.pcap\t1\tTCP\t10.0.0.1:65536\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `column src \(4\): "10.0.0.1:65536": bad port "65536"`},
		{"nDPI's double ::", hdr + good + good + "a.pcap\t1\tTCP\t[2001:db8::1]:3\t[2600:1901::7a0b::]:443\tTLS\tTLS\tWeb\t1\t2\t3\t4\n", `line 4, column dst \(5\): "\[2600:1901::7a0b::\]:443": bad address`},
		{"bracketed IPv4", hdr + "a.pcap\t1\tTCP\t[10.0.0.1]:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `column src \(4\): .*IPv4 address in brackets`},
		{"families", hdr + "a.pcap\t1\tTCP\t10.0.0.1:1\t[::1]:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n", `column dst \(5\): .*family`},
		{"count", hdr + "a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t-2\t3\t4\n", `line 2, column bytes_c2s \(10\): "-2": want a count`},
		{"carriage return", hdr + "a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHT\rTP\tHTTP\tWeb\t1\t2\t3\t4\n", `line 2: a carriage return`},
	} {
		_, err := ReadFlowLabels(strings.NewReader(c.in))
		var le *LabelError
		if !errors.As(err, &le) {
			t.Errorf("%s: %v, want a *LabelError", c.name, err)
			continue
		}
		if !regexp.MustCompile(c.want).MatchString(err.Error()) {
			t.Errorf("%s: %q does not match %q", c.name, err, c.want)
		}
	}
	// Skipping: the malformed rows come back as errors, the others as labels.
	lr := LabelReader{File: "labels.tsv", SkipMalformed: true}
	got, err := lr.Read(strings.NewReader(hdr + good + "a.pcap\t1\tTCP\n" + good + "a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:x\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n"))
	if err != nil || len(got) != 2 || len(lr.Skipped) != 2 || lr.Skipped[0].Line != 3 || lr.Skipped[1].Line != 5 || lr.Skipped[1].Column != "dst" {
		t.Fatalf("skipping: %d labels, %v, skipped %v", len(got), err, lr.Skipped)
	}
	if s := lr.Skipped[1].Error(); !strings.HasPrefix(s, "dataset: labels.tsv: line 5, column dst (5)") {
		t.Errorf("skipped error %q does not name the file, line and column", s)
	}
	if _, err := ReadFlowLabelsFile("testdata/no-such.tsv"); err == nil || !strings.Contains(err.Error(), "no-such.tsv") {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseAddrPort(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4:80":           "1.2.3.4:80",
		"[2001:db8::1]:443":    "[2001:db8::1]:443",
		"2001:db8::1:443":      "[2001:db8::1]:443",
		"[fe80::1%eth0]:546":   "[fe80::1]:546",
		"[::ffff:1.2.3.4]:0":   "[::ffff:1.2.3.4]:0",
		"::ffff:1.2.3.4:65535": "[::ffff:1.2.3.4]:65535",
	} {
		ap, err := ParseAddrPort(in)
		if err != nil || ap.String() != want {
			t.Errorf("ParseAddrPort(%q) = %v, %v; want %s", in, ap, err, want)
		}
	}
	for _, in := range []string{"", "1.2.3.4", ":80", "[1.2.3.4]:80", "[::1]", "[::1]:", "1.2.3.4:-1", "1.2.3.4:0x50", "a.b.c.d:1", "[::1]:80:80"} {
		if ap, err := ParseAddrPort(in); err == nil {
			t.Errorf("ParseAddrPort(%q) = %v, want an error", in, ap)
		}
	}
}

// FuzzReadFlowLabels: ReadFlowLabels never panics, fails only with a
// *LabelError, and what it reads WriteFlowLabels writes back to the same
// labels.
func FuzzReadFlowLabels(f *testing.F) {
	good := "a.pcap\t1\tTCP\t10.0.0.1:1\t10.0.0.2:2\tHTTP\tHTTP\tWeb\t1\t2\t3\t4\n"
	fuzzseed.Add(f, "ndpi", hdr+"1kxun.pcap\t1\tTCP\t192.168.2.126:45380\t161.117.13.29:80\tHTTP.1kxun\t1kxun\tStreaming\t7\t4845\t73\t178280\n"+
		"1kxun.pcap\t34\tUDP\t[fe80::9bd:81dd:2fdc:5750]:1900\t[ff02::c]:1900\tSSDP\tSSDP\tSystem\t16\t8921\t0\t0\n"+
		"a.pcap\t36\tICMP\t10.24.82.188:0\t10.188.191.1:0\tICMP\tICMP\tNetwork\t1\t147\t0\t0\n"+
		"a.pcap\t37\t37\t10.24.82.188:0\t10.188.191.1:0\tUnknown\tUnknown\t\t1\t147\t0\t0\n")
	fuzzseed.Add(f, "crlf-blank", strings.ReplaceAll(hdr+good+"\n"+good, "\n", "\r\n"))
	fuzzseed.Add(f, "unbracketed-v6", hdr+"b/c.pcapng\t9\tudp\tfe80::1:546\tff02::1:2:547\tDHCPV6\tDHCPV6\tNetwork\t5\t490\t0\t0\n")
	fuzzseed.Add(f, "permuted", "extra\tapp\tpcap\tl4\tsrc\tdst\tflow_no\tndpi_proto\tcategory\tbytes_s2c\tpkts_s2c\tbytes_c2s\tpkts_c2s\nzz\tX\tx.pcap\tTCP\t1.1.1.1:1\t2.2.2.2:2\t1\tX\tY\t1\t1\t1\t1\n")
	fuzzseed.Add(f, "double-colon", hdr+"a.pcap\t1\tTCP\t[2001:db8::1]:3\t[2600:1901::7a0b::]:443\tTLS\tTLS\tWeb\t1\t2\t3\t4\n")
	fuzzseed.Add(f, "short-row", hdr+good+"a.pcap\t1\tTCP\n")
	fuzzseed.Add(f, "no-header", good)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ReadFlowLabels(strings.NewReader(in))
		if err != nil {
			var le *LabelError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		var b bytes.Buffer
		if err := WriteFlowLabels(&b, got); err != nil {
			t.Fatalf("WriteFlowLabels of what was read: %v", err)
		}
		back, err := ReadFlowLabels(&b)
		if err != nil {
			t.Fatalf("reading back: %v\n%s", err, b.String())
		}
		for i := range got {
			got[i].Line = 0
		}
		for i := range back {
			back[i].Line = 0
		}
		if len(got) == 0 && len(back) == 0 {
			return
		}
		if !reflect.DeepEqual(got, back) {
			t.Fatalf("read back\n%+v\nwant\n%+v", back, got)
		}
	})
}
