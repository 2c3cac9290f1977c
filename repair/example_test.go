package repair_test

import (
	"fmt"
	"math/rand/v2"

	"t2t"
	"t2t/pcapio"
	"t2t/repair"
)

func ExampleFlow() {
	flows, _, err := pcapio.AssembleFile("../testdata/captures/dns-200.pcap", pcapio.FlowOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	prof := repair.BuildProfile(map[string][]*pcapio.Flow{"dns": flows})

	// A real DNS exchange as a NetDiffusion matrix, as a model would
	// generate it: no addresses, no payload, and a few bits wrong.
	l := t2t.NetDiffusionSpec.MustLayout()
	m := t2t.NewMatrix(l, 0)
	enc := t2t.NewEncoder(l, t2t.ModelEncoderOptions())
	for _, p := range flows[0].Packets {
		if _, err := enc.Append(m, p.Link, p.Data, p.Time); err != nil {
			fmt.Println(err)
			return
		}
	}
	m = m.Resize(4) // two vacant rows of padding
	ttl, _, _ := l.Field("ipv4_ttl")
	m.SetBit(0, ttl+1, 0) // TTL 64 -> 0
	ck, _, _ := l.Field("udp_cksum")
	m.SetBit(1, ck+15, 1-m.Bit(1, ck+15)) // a checksum bit flipped

	res, err := repair.Flow(m, "dns", prof, repair.Options{FlowIndex: 3}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	lg := res.Log
	fmt.Println(t2t.TransportName(res.Proto), res.Client, "->", res.Server)
	fmt.Printf("rows %d, padding %d, dropped %d, inserted %d\n", lg.Rows, lg.Padding, lg.Dropped, lg.Inserted)
	fmt.Printf("bits changed %d of %d: %v\n", lg.BitsChanged, lg.BitsKept, lg.Fields)
	for _, p := range res.Packets {
		info, _ := t2t.ParseInfo(p.Link, p.Data)
		fmt.Println(p.Time.UTC().Format("15:04:05.000000"), len(p.Data), "bytes, ttl", info.TTL,
			"checksums valid:", t2t.ChecksumsValid(p.Data[info.NetOff:]))
	}
	// The TTL is repaired; the flipped UDP checksum is kept and made true
	// by choosing two payload bytes; the IPv4 checksums change with the
	// addresses, which the layout does not hold.

	// Output:
	// udp 10.0.0.14:58310 -> 10.0.0.13:53
	// rows 4, padding 2, dropped 0, inserted 0
	// bits changed 9 of 2176: map[ipv4_cksum:8 ipv4_ttl:1]
	// 16:56:08.233245 95 bytes, ttl 64 checksums valid: true
	// 16:56:08.244187 284 bytes, ttl 64 checksums valid: true
}
