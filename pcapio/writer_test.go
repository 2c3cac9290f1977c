package pcapio

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"t2t"
)

// TestWriterRoundTrip writes real packets in both timestamp resolutions
// and reads them back with the Reader and with tshark.
func TestWriterRoundTrip(t *testing.T) {
	for _, path := range testCaptures(t) {
		src := readFile(t, path)
		for _, nano := range []bool{false, true} {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, t2t.LinkEthernet, WriterOptions{Nanosecond: nano, Snaplen: 1500})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]Packet, len(src))
			for i, p := range src {
				if nano {
					p.Time = p.Time.Add(time.Duration(i)) // use the nanoseconds
				}
				if err := w.Write(p); err != nil {
					t.Fatal(err)
				}
				want[i] = p
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, path, buf.Bytes())
			samePackets(t, path+" round trip", got, want)

			if _, err := exec.LookPath("tshark"); err != nil || nano {
				continue
			}
			tmp := filepath.Join(t.TempDir(), "w.pcap")
			os.WriteFile(tmp, buf.Bytes(), 0o644)
			cmd := exec.Command("tshark", "-n", "-r", tmp, "-T", "fields", "-e", "frame.len")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			errText := strings.ReplaceAll(stderr.String(), `Running as user "root" and group "root". This could be dangerous.`, "")
			if err != nil || strings.TrimSpace(errText) != "" {
				t.Fatalf("tshark on written file: %v\n%s", err, stderr.String())
			}
			lines := strings.Fields(string(out))
			if len(lines) != len(want) {
				t.Fatalf("tshark reads %d packets, want %d", len(lines), len(want))
			}
			for i, l := range lines {
				if n, _ := strconv.Atoi(l); n != want[i].OrigLen {
					t.Fatalf("packet %d: tshark length %d, want %d", i, n, want[i].OrigLen)
				}
			}
		}
	}
}

func TestWriterRejects(t *testing.T) {
	data := readFile(t, "../testdata/captures/dns-200.pcap")[0].Data
	ts := time.Unix(1_700_000_000, 0)
	w, err := NewWriter(&bytes.Buffer{}, t2t.LinkEthernet, WriterOptions{Snaplen: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(time.Time{}, data[:60]); !errors.Is(err, ErrNoTimestamp) || !strings.Contains(err.Error(), "timestamps are required") {
		t.Errorf("zero time: %v", err)
	}
	cases := []struct {
		ts   time.Time
		data []byte
		want string
	}{
		{ts, data, "packet 0: 95 bytes exceed snaplen 64"},
		{ts, nil, "packet 0: no data"},
		{time.Unix(-10, 0), data[:60], "outside the pcap range"},
		{time.Unix(1<<33, 0), data[:60], "outside the pcap range"},
	}
	for _, c := range cases {
		if err := w.WritePacket(c.ts, c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("WritePacket(%v, %d bytes) = %v, want %q", c.ts, len(c.data), err, c.want)
		}
	}
	if err := w.Write(Packet{Time: ts, Data: data[:60], OrigLen: 10, Link: t2t.LinkEthernet}); err == nil || !strings.Contains(err.Error(), "original length 10") {
		t.Errorf("short OrigLen: %v", err)
	}
	if err := w.Write(Packet{Time: ts, Data: data[:60], OrigLen: 60, Link: t2t.LinkRaw}); err == nil || !strings.Contains(err.Error(), "link type RAW differs") {
		t.Errorf("link mismatch: %v", err)
	}
	if _, err := NewWriter(&bytes.Buffer{}, t2t.LinkEthernet, WriterOptions{Snaplen: MaxCapLen + 1}); err == nil {
		t.Error("snaplen over MaxCapLen accepted")
	}
	// A rejected packet writes nothing: the file holds only the good one.
	var buf bytes.Buffer
	w, _ = NewWriter(&buf, t2t.LinkEthernet, WriterOptions{})
	w.WritePacket(time.Time{}, data)
	if err := w.WritePacket(ts, data); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if got := readAll(t, "written", buf.Bytes()); len(got) != 1 || !got[0].Time.Equal(ts) {
		t.Fatalf("got %d packets", len(got))
	}
}

// TestWriteFile writes real packets to a file and reads them back; its
// errors name the path.
func TestWriteFile(t *testing.T) {
	src := readFile(t, testCaptures(t)[0])
	path := filepath.Join(t.TempDir(), "w.pcap")
	if err := WriteFile(path, t2t.LinkEthernet, src, WriterOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	samePackets(t, "WriteFile", readAll(t, path, data), src)

	bad := []Packet{{Link: t2t.LinkEthernet, Data: []byte{1}, OrigLen: 1}}
	if err := WriteFile(path, t2t.LinkEthernet, bad, WriterOptions{}); !errors.Is(err, ErrNoTimestamp) || !strings.Contains(err.Error(), path) {
		t.Errorf("zero timestamp: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "no", "w.pcap")
	if err := WriteFile(missing, t2t.LinkEthernet, src, WriterOptions{}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing folder: %v", err)
	}
}
