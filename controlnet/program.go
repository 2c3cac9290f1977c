package controlnet

import (
	"t2t/internal/prog"
	"t2t/unet"
)

// Program is the steered UNet's forward pass for batches of b samples
// (unet.Programmable): the ControlNet's branch (hint encoder, encoder
// copy, zero layers) feeding the base's skips and middle block, as Build
// adds them to a graph.
func (n *ControlNet) Program(b int) (*prog.Program, error) {
	return unet.BuildProgram(b, func(pb *unet.ProgramBuilder) int {
		u := n.UNet
		c := u.Config
		in := pb.Inputs(u, c.Cols)
		ctx := pb.Context(u, in.Tokens)
		rows := b * c.Rows
		h0 := pb.Linear(n.hint[0], in.Control, rows)
		hint := pb.Linear(n.hint[1], pb.SiLU(h0, rows, c.Channels[0]), rows)
		skips, h, temb := pb.Encoder(n.Copy, in, hint, ctx)
		h = pb.Mid(n.Copy, h, temb, ctx)
		low := b * (c.Rows >> (len(c.Channels) - 1))
		res := &unet.ProgramResiduals{Mid: pb.Linear(n.zeroMid, h, low), Scale: n.Scale}
		for i, s := range skips {
			res.Skips = append(res.Skips, pb.Linear(n.zero[i], s, b*(c.Rows>>i)))
		}
		return pb.Forward(u, in, res)
	})
}
