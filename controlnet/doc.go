// Package controlnet makes generated flows obey a protocol template: a
// ControlNet steers a frozen t2t UNet with a control image, the structure
// map of a flow.
//
// # Control images
//
// A Control says, for each packet row and each nPrint bit column, whether
// the bit is present or vacant: which headers and options the packet has,
// and, through its empty rows, how many packets the flow has. Make one from
// a Matrix (FromMatrix), a real flow (FromFlow), a capture
// ("flow.pcap:3", FromPcap) or a PNG (DecodePNG: white present, black
// vacant, or a t2t flow image, whose blue pixels are vacant); WritePNG
// draws one, for editing by hand.
//
// # The network
//
// New copies the base UNet's encoder and middle block (unet.EncoderCopy,
// parameters named "control.<base name>"), adds a hint encoder (two
// linear layers with SiLU that map each control row to the width of the
// patch embedding, added to the copy's) and zero-initialised output layers
// ("control.zero.<level>", "control.zero.mid") whose outputs, times
// Scale, are added to the base's skip connections and middle block. The
// copy reads the base's prompt context, so prompt words added by LoRA
// adapters work with a ControlNet. An untrained ControlNet adds exactly
// zero: the base's output, bit for bit.
//
// Training uses train.Trainer like any predictor, with the base frozen
// (Freeze) and each example carrying its control (Examples gives every
// flow its own structure map):
//
//	n, err := controlnet.New(model.UNet, seed)
//	err = controlnet.Examples(examples, model.UNet.Config)
//	n.Freeze()
//	tr, err := train.NewTrainer(n, tc, examples)
//	err = tr.Run(ctx, progress)
//	err = n.Save("controlnet.safetensors", nil)
//
// Sampling takes one control per flow (cycled):
//
//	m, err := flow.Matrix(layout, rows)      // a real flow (pcapio.Flow)
//	c := controlnet.FromMatrix(m, rows)      // or ReadPNGFile, or Templates.Draw
//	flows, err := pipeline.Sample(ctx, n, vocab, noise, "dns udp",
//		pipeline.SampleOptions{N: 4, Steps: 20, Guidance: 2, Control: [][]float32{c.Values()}})
//
// Files hold only the ControlNet's weights, with the base's fingerprint
// (unet.Fingerprint): Load refuses another base, a truncated file, missing
// or misshapen tensors.
package controlnet
