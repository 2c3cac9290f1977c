package pcapio

import (
	"bytes"
	"io"
	"os"
	"testing"
)

func benchFile(b *testing.B) []byte {
	path := seedDir + "/iperf_tcp.pcap"
	if _, err := os.Stat(path); err != nil {
		path = "../testdata/captures/http-200.pcap"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s", path)
	return data
}

// BenchmarkReader reads a whole capture from memory per iteration.
func BenchmarkReader(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	br := bytes.NewReader(data)
	n := 0
	for b.Loop() {
		br.Reset(data)
		r, err := NewReader(br)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkAssemble assembles the flows of a capture per iteration.
func BenchmarkAssemble(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		_, st, err := Assemble(r, FlowOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n += st.Packets
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}
