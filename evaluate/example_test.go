package evaluate_test

import (
	"fmt"

	"t2t/evaluate"
)

// CheckFile judges a capture with gopacket: here the committed SSH
// capture, whose packets are partly cut by the snap length (their
// checksums cannot be verified).
func ExampleCheckFile() {
	c, err := evaluate.CheckFile("../testdata/captures/ssh-200.pcap")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d packets, %d flows (%d TCP)\n", c.Packets, c.Flows, c.TCPFlows)
	fmt.Printf("checksums verified in %d, %d cut short\n", c.ChecksumChecked, c.Truncated)
	fmt.Printf("errors: %d, TCP: %+v\n", c.Errors(), c.TCP)
	// Output:
	// 200 packets, 6 flows (6 TCP)
	// checksums verified in 151, 49 cut short
	// errors: 0, TCP: {NoHandshake:0 IllegalFlags:0 SYNAfterData:0 DataBeforeHandshake:0 SeqGap:0 AckAhead:0 AfterRST:0}
}
