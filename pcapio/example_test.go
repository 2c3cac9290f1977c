package pcapio_test

import (
	"fmt"

	"t2t/pcapio"
)

func ExampleAssembleFile() {
	flows, stats, err := pcapio.AssembleFile("../testdata/captures/dns-200.pcap", pcapio.FlowOptions{MaxPackets: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	f := flows[0]
	fmt.Println(stats.Packets, "packets,", len(flows), "flows")
	fmt.Println(f.Key, "initiator", f.Src)
	for i := range f.Packets {
		fmt.Println(f.Forward(i), len(f.Packets[i].Data))
	}
	// Output:
	// 200 packets, 65 flows
	// udp 10.77.0.1:53 <-> 10.77.0.2:58310 initiator 10.77.0.2:58310
	// true 95
	// false 256
}
