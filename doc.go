// Package t2t is the core of t2t, a library for text-to-traffic synthesis:
// it learns from real packet captures a conditional diffusion model over
// nPrint bit images and turns a prompt such as "type-3" back into valid,
// replayable pcaps.
//
// This root package holds the representation every other package shares:
// nPrint's bit-level encoding of packet headers, the Matrix of encoded
// packets, its image form, and the way back from bits to packets.
//
// # The pipeline
//
// Data moves one way through the packages of t2t:
//
//	pcap --pcapio.Reader--> frames --pcapio.Assemble--> flows
//	  --pcapio.Flow.Matrix (t2t.Encoder, ModelEncoderOptions)--> t2t.Matrix (rows = packets, columns = nPrint bits, 1/0/-1)
//	  --Matrix.AppendRowPlanes--> model input [rows, 3, cols] --t2t/train--> model folder (t2t/models)
//	prompt --t2t/pipeline: unet (+lora, +controlnet) under a t2t/sampler scheduler--> model output
//	  --MatrixFromRowPlanes--> t2t.Matrix --t2t/repair--> packets --pcapio.WriteFile--> pcap
//
// where repair reads the rows with a FieldReader and builds each frame with
// Headers.AppendFrame; the Decoder is the direct way back (nPrint's -N done
// right), reading rows with the same FieldReader. Matrix.Planes and
// png.Encode give the image form ([3, rows, cols], a paletted PNG).
//
// The model side lives in its own packages: t2t/unet (the conditional
// UNet, its layers, prompts and weights), t2t/train (captures to training
// examples, the training loop), t2t/sampler (noise processes and
// schedulers), t2t/lora (adapters that add classes to a frozen model),
// t2t/controlnet (a ControlNet that makes flows follow a structure map:
// which header bits exist in which packet), t2t/models (the model folder,
// its one Save and Load, and the embedded default model), t2t/repair
// (generated rows to valid packets), t2t/pipeline (prompt to pcap) and
// t2t/evaluate (fidelity, judged with gopacket).
//
// # Layouts
//
// A Layout is the list of columns of a row: the nPrint blocks it holds (eth
// 112 bits, ipv4 480, ipv6 320, tcp 480, udp 64, icmp 64, payload 8 per
// byte), in nPrint's fixed order, with nPrint 1.2.1's column names
// (ipv4_ttl_0 is the most significant bit of the TTL). It is compiled from a
// LayoutSpec, which mirrors nPrint's flags:
//
//	l, err := t2t.LayoutSpec{IPv4: true, TCP: true, UDP: true, Payload: 32}.Layout()
//
// NPrintSpec is nPrint's -4 -6 -t -u -i (1408 columns); NetDiffusionSpec is
// the image layout of NetDiffusion (the same blocks without the four address
// fields, 1088 columns). LayoutFromColumns recognises a layout from a CSV
// header.
//
// # Encoding
//
// An Encoder writes one row per packet and allocates nothing per packet:
//
//	enc := t2t.NewEncoder(l, t2t.EncoderOptions{})
//	row := make([]int8, l.Width())
//	info, err := enc.Encode(row, t2t.LinkEthernet, frame)
//	if errors.Is(err, t2t.ErrSkip) {
//		// not IP carrying TCP, UDP or ICMP: nPrint writes no row
//	}
//
// Bits are 1 or 0 where the packet has them and -1 (vacant) where it does
// not: headers it lacks, IPv4 and TCP option space past IHL*4 and doff*4,
// payload past its end. The zero EncoderOptions reproduce nPrint 1.2.1 bit
// for bit, quirks included; EncoderOptions.VLAN and IPv6Payload depart from
// it where nPrint is wrong. ModelEncoderOptions (both departures) is the
// encoding t2t's models are trained on: use it for anything compared with
// a model's output. Where a snap length cut a packet short, nPrint reads
// the payload its IP header claims past the end of the capture (zeros, then
// memory); the Encoder writes those bytes vacant, or 0 with
// EncoderOptions.ZeroSnappedPayload, as the nprint command does.
//
// # Parsing
//
// ParseInfo reads what t2t needs of a frame's headers (addresses,
// protocol, ports, ICMP echo identifier, TTL, DF, claimed IP length, TCP
// flags, window and data offset) into a PacketInfo; the Encoder shares its
// parser of IP and transport headers. TransportName and TransportProto
// map protocol numbers to "tcp", "udp", "icmp" and back.
//
// # Decoding
//
// A Decoder rebuilds packets from rows. Unlike nPrint's own reverse
// conversion it never reads past a buffer, and on request it fixes lengths
// and checksums, fills the address fields that a layout leaves out, and
// frames the packet for a link type:
//
//	dec := t2t.NewDecoder(l, t2t.DecodeOptions{FixLengths: true, FixChecksums: true})
//	pkt, err := dec.Decode(row)
//
// A FieldReader is the one place where a row's bits become field values:
// it unpacks a row into its blocks (vacant where the layout has no column)
// and reads fields by name, or bits and bytes by block offset, each read
// saying how many of its bits were vacant. The Decoder reads rows through
// it, and so does t2t/repair. Headers.AppendFrame is the one builder of a
// frame from header values (repair's packets); the Decoder and it share
// the Ethernet header, address, length and checksum steps.
//
// # CSV
//
// CSVWriter and CSVReader read and write nPrint's CSV: a key column
// (nPrint's -O: src_ip, dst_ip, src_prt, dst_prt or flow), optional time
// columns (rts, or tv_sec and tv_usec), then the bit columns. The reader also
// takes NetDiffusion's 1409-column files and values written as floats.
//
// # Images
//
// A Matrix is an image.PalettedImage (x = column, y = packet, first packet
// on top) over the palette 1 = red, 0 = green, -1 = blue, so png.Encode
// writes it as it is; MatrixFromImage and DecodePNG read any image back by
// nearest-colour snapping. Planes gives the model's three float planes in
// [-1,1] and MatrixFromPlanes snaps a model output back to a legal Matrix.
//
// # Link types
//
// Frames may be Ethernet (with 802.1Q/802.1ad tags when EncoderOptions.VLAN
// is set), raw IPv4/IPv6, Linux cooked captures (SLL and SLL2) or BSD
// loopback; NetworkLayer finds the IP header in each.
package t2t
