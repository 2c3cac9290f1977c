package controlnet

// ZeroMidTrained reports whether the middle zero layer of n left zero
// (for the external tests).
func ZeroMidTrained(n *ControlNet) bool {
	for _, v := range n.zeroMid.W.Float32s() {
		if v != 0 {
			return true
		}
	}
	return false
}
