package evaluate

import (
	"path/filepath"
	"sync"
	"testing"

	"t2t/pcapio"
)

const (
	capturesDir = "../testdata/captures"
	seed42Dir   = "../../shared/data/captures-seed42"
	groupsFile  = "../../shared/capture/groups.tsv"
)

var (
	smallOnce sync.Once
	smallDS   *pcapio.Dataset
	smallErr  error
)

// small loads the committed captures as a data set of 7 classes
// (<class>-200.pcap gives class <class>).
func small(t testing.TB) *pcapio.Dataset {
	t.Helper()
	smallOnce.Do(func() {
		ds, err := pcapio.LoadDataset(capturesDir, pcapio.FlowOptions{})
		if err != nil {
			smallErr = err
			return
		}
		// strip the "-200" suffix of the class names
		out := &pcapio.Dataset{Flows: map[string][]*pcapio.Flow{}, Files: map[string][]string{}}
		for _, c := range ds.Classes {
			n := c[:len(c)-len("-200")]
			out.Classes = append(out.Classes, n)
			out.Flows[n] = ds.Flows[c]
			out.Files[n] = ds.Files[c]
		}
		smallDS = out
	})
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallDS
}

func TestComplianceCommittedCaptures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(capturesDir, "*.pcap"))
	if len(files) == 0 {
		t.Fatal("no committed captures")
	}
	for _, f := range files {
		c, err := CheckFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d packets, %d flows (%d TCP), %d checksums checked, %d truncated, errors %d: %+v %v",
			filepath.Base(f), c.Packets, c.Flows, c.TCPFlows, c.ChecksumChecked, c.Truncated, c.Errors(), c.TCP, c.Problems)
		if c.Errors() != 0 {
			t.Errorf("%s: %d errors", f, c.Errors())
		}
	}
}

func TestComplianceSeed42(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	files, _ := filepath.Glob(filepath.Join(seed42Dir, "*.pcap"))
	if len(files) == 0 {
		t.Skip("no ", seed42Dir)
	}
	for _, f := range files {
		c, err := CheckFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d packets, %d flows (%d TCP), %d checksums checked, %d truncated, decode %d bad cksum %d udp %d icmp %d tcp %+v",
			filepath.Base(f), c.Packets, c.Flows, c.TCPFlows, c.ChecksumChecked, c.Truncated,
			c.DecodeErrors, c.BadChecksums, c.UDPLength, c.ICMPInvalid, c.TCP)
		for _, p := range c.Problems[:min(3, len(c.Problems))] {
			t.Log("  ", p)
		}
	}
}
