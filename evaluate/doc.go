// Package evaluate measures how close synthetic traffic is to real
// traffic: service recognition as in the paper's Table 2, per-field
// distribution distances, protocol compliance and class balance; and
// judges any generator by the detectability, diversity and memorisation
// of what it made.
//
// # Service recognition
//
// A Featurizer turns a flow into the nPrint rows of its first K packets
// (NetDiffusion's layout by default), concatenated and padded with -1
// rows, without the fields that name endpoints (IdentityFields: addresses
// and ports) and, by default, without the checksums (ChecksumFields: a
// checksum hashes the addresses and ports back in). Recognize splits the
// real flows 80/20 by class (seeded) and trains a random forest for each
// scenario:
//
//	real/real        real train split -> real test split
//	real/synthetic   all real         -> all synthetic
//	synthetic/real   all synthetic    -> real test split
//
// Micro accuracy scores classes; macro accuracy scores the groups of the
// same predictions (ReadGroups reads a class<TAB>group table).
//
//	ds, _ := pcapio.LoadDataset("captures", pcapio.FlowOptions{})
//	real, _ := evaluate.FromDataset(ds, nil)
//	rec, _ := evaluate.Recognize(real, nil, evaluate.RecognitionConfig{Seed: 42})
//	fmt.Println(rec.Scenarios[0].Micro)
//
// # Random forest
//
// TrainForest grows CART trees with Gini impurity over ternary features
// (1, 0, -1): the only split points are -0.5 and 0.5, so the search at a
// node counts, for each candidate feature, the rows of each class holding
// each value. Trees use bootstrap samples and sqrt(D) non-constant
// candidate features per split (constant ones are set aside and not
// tried again below); they are built in parallel, each from its own
// generator seeded in tree order, so a seed gives one forest whatever the
// number of workers.
//
// # Fidelity and balance
//
// FieldHistograms counts header fields (IP version, TTL, length, protocol,
// flags, TCP flags/offset/window/options, UDP length, ICMP type), packets
// per flow, log2-bucketed inter-arrival times and the transport of each
// flow; CompareFidelity gives, per class, the Jensen-Shannon divergence
// (base 2) and total variation distance of each, both in [0,1] and exactly
// 0 for a set against itself. ClassBalance gives counts and normalised
// entropy.
//
// # Measures of a generator
//
// Three measures judge a synthetic set on the first K packets of each
// flow (MeasureConfig.Packets, default MeasurePackets = 16), per class and
// pooled:
//
//	Detect      accuracy of a random forest telling real from synthetic
//	            flows, k-fold cross-validated (stratified, seeded) on n
//	            flows of each side; 0.5: indistinguishable
//	Diversify   share of distinct flow shapes (ShapeShare) among n
//	            synthetic vs n real flows, n the smaller count
//	Memorise    distance of each synthetic and each held-out real flow to
//	            its closest training flow (NearestDistance); medians,
//	            their ratio, and the share of exact copies
//
// Detect and Memorise see MeasureFeatures: the nPrint cells less
// addresses, ports, checksums and CaptureFields (IP ID, TCP sequence and
// acknowledgement numbers), values the capture sets and no generator can
// know. A shape is the sequence of (direction, transport, IP length, TCP
// flags, TCP window, UDP length, ICMP type/code) over the first K packets.
//
//	d, _ := evaluate.Detect(real.Flows, synth.Flows, evaluate.MeasureConfig{Seed: 1})
//	fmt.Println(d.All.Accuracy, d.MeanAccuracy)
//
// Real against real, one random half of each class of the 14-class
// capture (captures-seed42, 2,363 flows) against the other
// (TestMeasuresSeed42): detectability 0.517 pooled, 0.40 to 0.60 per
// class; shape shares 0.454 and 0.429; held-out flows at a median 0.020
// from their closest training flow, 29% of them exact copies (simple
// services such as NTP and SIP repeat themselves exactly). A set
// measured against itself scores below 0.5: every flow's twin is on the
// other side.
//
// # Compliance
//
// CheckFile and CheckFlows count decode errors, bad checksums (packets
// captured whole only; cut ones are counted as Truncated), UDP length and
// ICMP type/code errors, and TCP state-machine violations per flow
// (TCPViolations). Real captures come out clean except for what the
// network did: segments lost before the capture point show as SeqGap, and
// flows captured from the middle as NoHandshake.
//
//	c, _ := evaluate.CheckFile("generated.pcap")
//	fmt.Println(c.Errors(), c.ChecksumChecked, c.Problems)
//
// Compliance is judged with gopacket, not with the header parser t2t
// writes packets with (t2t.ParseInfo): each frame is decoded by a
// gopacket.DecodingLayerParser (layers Ethernet with 802.1Q/802.1ad tags,
// Loopback for BSD NULL/LOOP, LinuxSLL, IPv4, IPv6, TCP, UDP, ICMPv4),
// built once per check and decoding in place; payloads end the decoding
// (IgnoreUnsupported), and a header cut by the snap length is not an
// error (the capture gives each packet's length on the wire). Linux SLL2, which gopacket 1.1.19 lacks,
// has its 20-byte header skipped by hand; raw IP starts at IPv4 or IPv6
// by the version nibble. Checksums are summed (RFC 1071) over the bytes
// and addresses the gopacket layers give. A malformed option, which t2t's
// parser does not look at, is a decode error ("TCP options: ...").
// FieldHistograms reads its fields through the same decoder.
//
// # Report
//
// Evaluate runs everything on two pcapio data sets (and the generator's
// training set, Config.Train, for memorisation) and returns a Report,
// which writes itself as JSON, Markdown and PNG bar charts; FieldChart
// draws a class's real and synthetic field distributions side by side.
// The command examples/evaluate wraps it.
package evaluate
