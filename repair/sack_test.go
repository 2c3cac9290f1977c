package repair

import (
	"encoding/binary"
	"testing"
)

// TestValidSACK: a SACK block must report data beyond the cumulative
// acknowledgement that the peer has sent: ack < left < right <= next,
// modulo 2^32.
func TestValidSACK(t *testing.T) {
	block := func(l, r uint32) []byte {
		o := []byte{optNOP, optNOP, optSACK, 10, 0, 0, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(o[4:], l)
		binary.BigEndian.PutUint32(o[8:], r)
		return o
	}
	const ack, next = 1000, 5000
	for _, c := range []struct {
		l, r uint32
		ok   bool
	}{
		{2000, 3000, true},
		{1001, 5000, true},
		{900, 1000, false},                // at or below the ACK: a D-SACK of nothing repair duplicated
		{1000, 2000, false},               // left edge on the ACK
		{3000, 3000, false},               // empty
		{3000, 2000, false},               // reversed
		{2000, 6000, false},               // beyond what the peer sent
		{0x8000_0000, 0x9000_0000, false}, // far away (a model's random edges)
	} {
		if got := validSACK(block(c.l, c.r), ack, next); got != c.ok {
			t.Errorf("block [%d, %d) with ack %d, next %d: valid %v, want %v", c.l, c.r, ack, next, got, c.ok)
		}
	}
	// across the wrap of the sequence space
	if !validSACK(block(0xffff_fff0, 10), 0xffff_ff00, 100) {
		t.Error("a block across 2^32 refused")
	}
}
