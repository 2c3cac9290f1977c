package repair

import (
	"testing"

	"t2t"
)

// TestDirectionFromServerPort: a model learns a class's server port
// roughly and its random client ports not at all. Real UDP and TCP flows
// whose client-port bits are replaced by noise and whose server port has
// two bits flipped, in every row, still come back with (almost) every
// packet in its real direction, queries to the server and answers from it:
// the side closer to the server port decides.
func TestDirectionFromServerPort(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	checked, wrong, total := 0, 0, 0
	for _, class := range []string{"dns", "ntp", "sip", "http", "ssh"} {
		for i, f := range flows[class] {
			if i == 6 || hasFragment(f) || len(f.Packets) < 2 {
				break
			}
			m := encode(t, f)
			rng := newRand(int64(i))
			// client port: the source port of client rows, the destination of server rows
			for r := 0; r < m.Rows; r++ {
				info, err := t2t.ParseInfo(f.Packets[r].Link, f.Packets[r].Data)
				if err != nil {
					t.Fatal(err)
				}
				toServer := info.SrcPort == f.Src.Port()
				sp, dp := "udp_sport", "udp_dport"
				if info.Proto == t2t.ProtoTCP {
					sp, dp = "tcp_sprt", "tcp_dprt"
				}
				client, server := sp, dp
				if !toServer {
					client, server = dp, sp
				}
				fieldSet(m, r, client, rng, 0, 1)
				c, _, _ := m.Layout.Field(server)
				for _, b := range rng.Perm(16)[:2] {
					m.SetBit(r, c+b, 1-m.Bit(r, c+b))
				}
			}
			res, err := Flow(m, class, prof, own(f), newRand(1))
			if err != nil {
				t.Fatalf("%s flow %d: %v", class, i, err)
			}
			if len(res.Packets) < len(f.Packets) {
				continue // repair dropped rows (not what this test is about)
			}
			for r, p := range f.Packets {
				want, _ := t2t.ParseInfo(p.Link, p.Data)
				got, err := t2t.ParseInfo(res.Packets[r].Link, res.Packets[r].Data)
				if err != nil {
					t.Fatal(err)
				}
				srv := got.SrcPort // the port the server sends from, if the packet is an answer
				if want.SrcPort == f.Src.Port() {
					srv = got.DstPort // a query goes to it
				}
				total++
				if !contains(prof.Class(class).ServerPorts, int(srv)) {
					wrong++
				}
			}
			checked++
		}
	}
	if checked < 10 {
		t.Fatalf("only %d flows checked", checked)
	}
	t.Logf("%d of %d packets in the wrong direction", wrong, total)
	if float64(wrong) > 0.05*float64(total) {
		t.Fatalf("%d of %d packets in the wrong direction", wrong, total)
	}
}
