// Package repair turns one generated nPrint matrix (a t2t.Matrix, usually
// of t2t.NetDiffusionSpec) into the packets of one valid, replayable flow,
// and says how far the matrix was from valid.
//
// # Profiles
//
// BuildProfile learns, per class, from real flows what the matrix cannot
// say or says unreliably: server ports and the client port range, the
// transport mix, TTLs, TOS and DF per direction, TCP windows, the TCP option
// templates of SYNs and SYN+ACKs, ICMP types, the longest packet, and
// log2-histograms of inter-arrival times per packet-index bucket, and for
// the first PositionPackets packets what real flows carry at each
// position (Positions) and, for TCP, after each context of previous
// packets (Steps). A Profile round-trips through encoding/json (store it
// with the model); ParseProfile validates what it reads, sizes included.
//
// # Repair
//
//	prof := repair.BuildProfile(dataset.Flows)
//	res, err := repair.Flow(m, "dns", prof, repair.Options{FlowIndex: i}, rng)
//	// res.Packets: Ethernet frames; res.Log: bits changed, rows dropped/inserted
//	err = repair.WritePcap("out.pcap", results)
//
// Flow keeps every generated value that is already consistent and changes
// only what is not, so a real, valid flow encoded into a matrix comes back
// with the same headers (zero bits changed). In order:
//
//   - Rows: a row is padding when less than half of its IP or transport
//     header bits are present. The flow takes the IP version and transport
//     of the majority of rows (presence of the blocks, IP protocol field);
//     rows lacking them are dropped; bits of other blocks are cleared.
//   - Endpoints: addresses from Options or a private default per
//     FlowIndex. The two most frequent port values are the generated pair;
//     the server port is the one the profile knows as a server port. Each
//     row's direction is the assignment of its ports closer in Hamming
//     distance; ties alternate. ICMP: bit 3 of the type (8 request, 0
//     reply). Ports are kept when plausible for the class (server port in
//     the profile, client port in its range), otherwise drawn.
//   - Lengths: a length above the MTU loses its highest bits until it fits;
//     a length the class never has (ClassProfile.IPLens) becomes the
//     nearest one it has within MaxLenFlips bit flips, if any.
//   - Positions: once directions and the handshake are final, each of the
//     first PositionPackets packets takes its length as a sequence: a TCP
//     segment (no SYN, FIN or RST) keeps its payload length and window
//     when the class's real flows have them in its step
//     (ClassProfile.Steps: the same position and direction, after the
//     same previous data packet and previous packet), else draws them
//     from the step mixed with the position (SequenceWeight), weighed by
//     count and closeness in bits (SequenceOdds); an empty segment takes
//     data where real flows never send one empty (before the flow's
//     first FIN or RST and its ending); PSH is set or cleared where real
//     flows never send the length so (never on an empty segment). A UDP
//     datagram whose length is not one real flows carry at its position
//     (ClassProfile.Positions) draws one of those (PositionOdds).
//   - IP: version, IHL 5, total length, no fragments; TTL kept when the
//     profile has seen it in that direction, else the direction's
//     majority or the profile's mode; TOS (traffic class) kept when the
//     class has it at the packet's position and direction, else drawn
//     from those (ClassProfile.TOS, Position.TOS); DF forced where the class is
//     unanimous; IDs kept, unique per direction when DF is clear; IPv6
//     flow label one per direction.
//   - TCP: a SYN and SYN+ACK start the flow (generated ones are fixed,
//     missing ones inserted, and a client ACK when the server would speak
//     next); flags made legal (no SYN after the handshake, ACK on every
//     segment but a RST, ECN flags only when negotiated, URG only with a
//     pointer into the payload); a RST followed by more than two packets is
//     noise, packets after a RST are dropped; a FIN before its sender's
//     last data is noise; at most two packets follow the second FIN. The
//     ISN of each side is the offset on which most rows agree; a sequence
//     number is kept when it is the next one, an exact retransmission or a
//     keep-alive, an acknowledgement when it lies between the peer's ISN+1
//     and what the peer has sent. Options are kept when well-formed and
//     agreeing with what the handshake negotiated (SACK blocks when they
//     report data the peer sent beyond the ACK), otherwise rebuilt from
//     the class's template (SYN, SYN+ACK filtered by what the SYN offered)
//     or NOP,NOP,timestamps; timestamp values are kept when monotone and
//     echoing a value the peer sent. Zero windows are raised except on a
//     RST.
//   - UDP: length. ICMP: echo sessions only, one identifier, each reply
//     answering its request (a request is inserted when a reply has none).
//   - Checksums: all are correct. The generated transport checksum is kept
//     when free payload bytes can be chosen to match it (one 16-bit word
//     at the end of the payload; RecomputeChecksums turns this off).
//   - Times: the matrix's when it carries monotone times, else gaps drawn
//     from the profile, from Options.Start.
//
// The Log compares the encoding of the repaired packets (with
// t2t.ModelEncoderOptions, the encoding models are trained on) with the
// kept rows, bit by bit and per field.
//
// # The code path
//
// Flow (repair.go) runs these steps in order, one file each: rows.go
// classifies and reads rows through a t2t.FieldReader (the root package's
// one reader of header fields); ip.go fixes lengths and the IP fields;
// endpoints.go chooses addresses, ports and directions; tcp.go builds the
// TCP state (handshake, flags, end; then sequence numbers, options,
// timestamps, windows), with options.go for TCP options; icmp.go pairs
// echo requests and replies; times.go sets timestamps; frame.go builds each
// frame with t2t.Headers.AppendFrame and keeps the generated checksum
// where it can. BuildProfile (profile.go) reads real packets only through
// t2t.ParseInfo. WritePcap (pcap.go) merges flows by time and writes them
// with pcapio.WriteFile.
//
// # Limits
//
// The usual layouts carry no payload, so payload bytes are zeros (or
// random): tshark's application dissectors (DNS, NTP, SSH...) may call
// such payloads malformed, while IP, TCP, UDP and ICMP are clean.
package repair
