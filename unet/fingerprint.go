package unet

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
)

// Fingerprint identifies a model's weights: the hex SHA-256 of its
// parameters' names, shapes and values (as float32, so that a float64 copy
// of a model has its fingerprint), in name order. The token table
// (tokens.embedding) is left out, as LoRA adapters write their new
// tokens' rows into it. Adapters and ControlNets record their base's
// fingerprint and refuse another.
func Fingerprint(u *UNet) string {
	h := sha256.New()
	var buf []byte
	for _, p := range u.Params.Sorted() {
		if p.Name == "tokens.embedding" {
			continue
		}
		buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(len(p.Name)))
		buf = append(buf, p.Name...)
		s := p.Shape()
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
		for _, d := range s {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
		}
		h.Write(buf)
		buf = buf[:0]
		if f := p.Float32s(); f != nil {
			for _, v := range f {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		} else {
			for _, v := range p.Float64s() {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(v)))
			}
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}
