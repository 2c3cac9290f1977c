// Package replaytest replays pcaps with tcpreplay on the loopback
// interface for tests: what a pcap holds against what tcpreplay sent.
package replaytest

import (
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"t2t/pcapio"
)

// Result is a pcap's packets and bytes (stored, and on the wire), and
// what tcpreplay reported sending.
type Result struct {
	Packets, Wire, Stored int
	Sent, Bytes           int
	Failed, Truncated     int
	Output                string // tcpreplay's output
}

// Replay sends path with tcpreplay -i lo and the extra arguments. It
// skips the test without tcpreplay or without the right to send raw
// frames.
func Replay(t testing.TB, path string, args ...string) Result {
	t.Helper()
	bin, err := exec.LookPath("tcpreplay")
	if err != nil {
		t.Skip("tcpreplay not installed (apt-get install tcpreplay)")
	}
	var res Result
	r, err := pcapio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		res.Packets++
		res.Wire += p.OrigLen
		res.Stored += len(p.Data)
	}
	b, err := exec.Command(bin, append(append([]string{"-i", "lo"}, args...), path)...).CombinedOutput()
	res.Output = string(b)
	if err != nil {
		if strings.Contains(res.Output, "ermission") || strings.Contains(res.Output, "Operation not permitted") {
			t.Skipf("tcpreplay may not send on lo here: %s", b)
		}
		t.Fatalf("tcpreplay: %v\n%s", err, b)
	}
	for _, line := range strings.Split(res.Output, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Actual:"):
			fmt.Sscanf(line, "Actual: %d packets (%d bytes)", &res.Sent, &res.Bytes)
		case strings.HasPrefix(line, "Failed packets:"):
			fmt.Sscanf(line, "Failed packets: %d", &res.Failed)
		case strings.HasPrefix(line, "Truncated packets:"):
			fmt.Sscanf(line, "Truncated packets: %d", &res.Truncated)
		}
	}
	if res.Sent != res.Packets || res.Failed != 0 || res.Truncated != 0 || res.Packets == 0 {
		t.Fatalf("tcpreplay sent %d of %d packets, %d failed, %d truncated\n%s", res.Sent, res.Packets, res.Failed, res.Truncated, b)
	}
	return res
}
