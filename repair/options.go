package repair

import "encoding/binary"

// TCP flag bits of byte 13 of the header.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
	flagURG = 0x20
	flagECE = 0x40
	flagCWR = 0x80
)

// TCP option kinds repair understands.
const (
	optEOL    = 0
	optNOP    = 1
	optMSS    = 2
	optWS     = 3
	optSACKOK = 4
	optSACK   = 5
	optTS     = 8
)

// optInfo is what parseOptions found.
type optInfo struct {
	mss, ws, sackOK, sack, ts bool
	tsOff                     int // offset of the TSval in the options
}

// parseOptions checks that o is a well-formed TCP option list of the kinds
// repair writes (EOL, NOP, MSS, window scale, SACK-permitted, SACK,
// timestamps), each at most once, MSS/window scale/SACK-permitted only on
// a SYN and SACK blocks only on other segments; after an EOL only zero
// bytes.
func parseOptions(o []byte, syn bool) (optInfo, bool) {
	var in optInfo
	for i := 0; i < len(o); {
		k := o[i]
		switch k {
		case optEOL:
			for _, b := range o[i:] {
				if b != 0 {
					return in, false
				}
			}
			return in, true
		case optNOP:
			i++
			continue
		}
		if i+1 >= len(o) {
			return in, false
		}
		n := int(o[i+1])
		if n < 2 || i+n > len(o) {
			return in, false
		}
		var dup bool
		switch {
		case k == optMSS && n == 4 && syn:
			dup, in.mss = in.mss, true
			if binary.BigEndian.Uint16(o[i+2:]) < 536 {
				return in, false
			}
		case k == optWS && n == 3 && syn:
			dup, in.ws = in.ws, true
			if o[i+2] > 14 {
				return in, false
			}
		case k == optSACKOK && n == 2 && syn:
			dup, in.sackOK = in.sackOK, true
		case k == optSACK && !syn && n >= 10 && (n-2)%8 == 0:
			dup, in.sack = in.sack, true
		case k == optTS && n == 10:
			dup, in.ts, in.tsOff = in.ts, true, i+2
		default:
			return in, false
		}
		if dup {
			return in, false
		}
		i += n
	}
	return in, true
}

// zeroTS zeroes the timestamp values of a well-formed option list.
func zeroTS(o []byte) {
	if in, ok := parseOptions(o, true); ok && in.ts {
		clear(o[in.tsOff : in.tsOff+8])
	}
}

// filterOptions rebuilds a SYN+ACK's options so that it offers only what
// the SYN offered (window scale, SACK-permitted, timestamps), NOP-padded to
// a multiple of 4 bytes.
func filterOptions(o []byte, syn optInfo) []byte {
	var out []byte
	for i := 0; i < len(o); {
		k := o[i]
		if k == optEOL {
			break
		}
		if k == optNOP {
			i++
			continue
		}
		n := int(o[i+1])
		keep := k == optMSS || (k == optWS && syn.ws) || (k == optSACKOK && syn.sackOK) || (k == optTS && syn.ts)
		if keep {
			if k == optWS || k == optMSS || k == optTS {
				for (len(out)+n)%4 != 0 && k != optMSS {
					out = append(out, optNOP)
				}
			}
			out = append(out, o[i:i+n]...)
		}
		i += n
	}
	for len(out)%4 != 0 {
		out = append(out, optNOP)
	}
	return out
}

// defaultSYNOptions is Linux's SYN option list: MSS 1460, SACK-permitted,
// timestamps, NOP, window scale 7.
var defaultSYNOptions = []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7}

// tsOptions is NOP, NOP, timestamps: what Linux sends after the handshake.
func tsOptions(val, ecr uint32) []byte {
	o := []byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(o[4:], val)
	binary.BigEndian.PutUint32(o[8:], ecr)
	return o
}
