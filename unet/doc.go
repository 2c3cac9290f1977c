// Package unet is t2t's denoiser: a conditional UNet over the packets of a
// flow image, its layers, its prompt vocabulary and its weights. It is the
// model and nothing else: it reads no capture (pcapio, t2t.Encoder), trains
// nothing (package train), writes no model folder (package models) and runs
// no sampling loop (package pipeline, over package sampler).
//
// # The model
//
// A flow image of Rows packets (t2t.Matrix, one row per packet, cells
// 1/0/-1) enters as [B, Rows, 3·Cols]: each row's red, green and blue
// planes, +1 where the pixel has the colour, -1 elsewhere
// (t2t.Matrix.AppendRowPlanes; t2t.MatrixFromRowPlanes snaps the output
// back). A row patch embedding turns each packet into Channels[0] channels,
// so the UNet runs over the packet axis: ResBlocks (GroupNorm, SiLU, a
// timestep embedding added), cross-attention to the prompt tokens, halving
// and doubling of the packet axis, self-attention at the lowest resolution,
// skips that take ControlNet residuals as ordinary inputs (Residuals). The
// output is the predicted clean image (or noise, per the noise config).
//
//	cfg, _ := unet.Preset("small")           // Tiny, Small, Base; Config round-trips JSON
//	u, err := unet.New(cfg, tensor.Float32)  // weights drawn from cfg.Seed
//
// # Prompts
//
// A Vocab maps prompt words to rows of the token table: class names, their
// aliases type-<i>, and the TransportWords (tcp, udp, icmp) of models
// trained with transport prompts ("dns tcp"). The null prompt (all NullID)
// is what classifier-free guidance contrasts with.
//
// # Predictors and graphs
//
// A Predictor builds the model's forward pass into a Graph: the UNet
// itself, a UNet with LoRA adapters attached (package lora), or a ControlNet
// steering a frozen UNet (package controlnet, a Controlled predictor that
// takes a control image). Compile makes a Net for a batch size (with or
// without a training loss); Generator caches one Net per batch size and
// gives the sampler a DenoiseFunc that runs the conditional and the
// unconditional prediction in one doubled batch.
//
// # Weights
//
// Every parameter has a hierarchical name (see UNet), which is its key in
// weights files. ParamTensors, ParamShapes, CheckTensors, CopyTensors and
// LoadWeights move values between parameters and tensors; Fingerprint
// identifies a model's weights, and CheckFile refuses an adapter or
// ControlNet file made for another base (ErrWrongBase).
//
// Every layer has a float64 finite-difference gradient test and a check
// against a reference forward; see DESIGN.md for the gorgonia ops that are
// wrong and avoided here.
package unet
