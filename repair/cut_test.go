package repair

import (
	"testing"

	"t2t"
	"t2t/pcapio"
)

func TestCutPayload(t *testing.T) {
	r, err := pcapio.Open("../testdata/captures/http-200.pcap")
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := r.ReadAll()
	r.Close()
	cut := 0
	for _, p := range ps {
		q := CutPayload(p.Clone())
		info, _ := t2t.ParseInfo(q.Link, q.Data)
		hdr := info.TransOff + int(q.Data[info.TransOff+12]>>4)*4
		if len(q.Data) != hdr || q.OrigLen != p.OrigLen {
			t.Fatalf("cut to %d bytes (headers %d), orig %d (was %d)", len(q.Data), hdr, q.OrigLen, p.OrigLen)
		}
		if len(q.Data) < len(p.Data) {
			cut++
		}
	}
	if cut == 0 {
		t.Fatal("no packet had a payload to cut")
	}
}
