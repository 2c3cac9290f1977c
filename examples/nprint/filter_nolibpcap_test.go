//go:build !libpcap

package main

import (
	"bytes"
	"strings"
	"testing"

	"t2t/internal/cli"
)

// TestFilterNeedsLibpcap: without the libpcap build tag, -f is refused
// with an error that says which tag it needs.
func TestFilterNeedsLibpcap(t *testing.T) {
	for _, f := range []string{"-f", "--filter"} {
		err := run([]string{"-P", dnsPcap, "-4", f, "udp port 53"}, new(bytes.Buffer), new(bytes.Buffer))
		if err == nil || !strings.Contains(err.Error(), "-tags libpcap") || cli.ExitCode(err) != 2 {
			t.Errorf("%s without libpcap: %v (exit %d)", f, err, cli.ExitCode(err))
		}
	}
}
