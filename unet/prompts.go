package unet

import "t2t"

// TransportWords are the prompt words naming a flow's transport protocol.
// A model trained with AddTransportPrompts takes prompts like "dns tcp";
// the pipeline uses them to generate a class's mix of TCP and UDP flows.
var TransportWords = []string{"tcp", "udp", "icmp"}

// TransportWord names an IP protocol number as a prompt word: "tcp",
// "udp", "icmp" (ICMPv4, the one nPrint encodes), or "" for any other.
func TransportWord(proto uint8) string { return t2t.TransportName(proto) }

// TrainedWithTransport reports whether a vocabulary holds the
// TransportWords, as one of a model trained with train.AddTransportPrompts does.
func TrainedWithTransport(v *Vocab) bool {
	for _, w := range TransportWords {
		if _, ok := v.ID(w); !ok {
			return false
		}
	}
	return true
}
