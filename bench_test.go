package t2t_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"t2t"
)

// benchFrames are real frames: the largest seed42 capture when ../shared is
// present, otherwise the committed captures.
func benchFrames(b *testing.B) []frame {
	if _, err := os.Stat("../shared/data/captures-seed42/iperf_tcp.pcap"); err == nil {
		return readFrames(b, "../shared/data/captures-seed42/iperf_tcp.pcap")
	}
	var all []frame
	for _, c := range []string{"dns", "http", "icmp", "ntp", "redis", "sip", "ssh"} {
		all = append(all, readFrames(b, "testdata/captures/"+c+"-200.pcap")...)
	}
	return all
}

func BenchmarkEncode(b *testing.B) {
	frames := benchFrames(b)
	for _, bc := range []struct {
		name string
		spec t2t.LayoutSpec
	}{
		{"nprint1408", t2t.NPrintSpec},
		{"netdiffusion1088", t2t.NetDiffusionSpec},
		{"payload32", t2t.LayoutSpec{IPv4: true, TCP: true, UDP: true, ICMP: true, Payload: 32}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := bc.spec.MustLayout()
			enc := t2t.NewEncoder(l, t2t.EncoderOptions{})
			row := make([]int8, l.Width())
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for i := 0; i < b.N; i++ {
				fr := frames[i%len(frames)]
				if _, err := enc.Encode(row, fr.link, fr.data); err == nil {
					n++
				} else if !errors.Is(err, t2t.ErrSkip) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	frames := benchFrames(b)
	l := t2t.NPrintSpec.MustLayout()
	enc := t2t.NewEncoder(l, t2t.EncoderOptions{})
	var rows [][]int8
	for _, fr := range frames[:min(len(frames), 2000)] {
		row := make([]int8, l.Width())
		if _, err := enc.Encode(row, fr.link, fr.data); err == nil {
			rows = append(rows, row)
		}
	}
	dec := t2t.NewDecoder(l, t2t.DecodeOptions{FixLengths: true, FixChecksums: true})
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = dec.Append(buf[:0], rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func BenchmarkCSVWrite(b *testing.B) {
	frames := benchFrames(b)
	l := t2t.NPrintSpec.MustLayout()
	enc := t2t.NewEncoder(l, t2t.EncoderOptions{})
	row := make([]int8, l.Width())
	info, _ := enc.Encode(row, frames[0].link, frames[0].data)
	w := t2t.NewCSVWriter(io.Discard, l, t2t.CSVOptions{Key: t2t.KeyFlow, Time: t2t.TimeRelative})
	var key []byte
	ts := time.Unix(1700000000, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key = t2t.KeyFlow.AppendKey(key[:0], &info)
		if err := w.WriteRow(key, ts, row); err != nil {
			b.Fatal(err)
		}
	}
	w.Flush()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkCSVRead(b *testing.B) {
	src := readGz(b, "testdata/nprint/captures/http-200.f2.nprint.gz")
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	rows := 0
	for i := 0; i < b.N; i++ {
		r, err := t2t.NewCSVReader(bytes.NewReader(src), "bench")
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
