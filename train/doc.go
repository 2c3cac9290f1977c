// Package train turns labelled captures into training examples and trains
// any unet.Predictor on them: a base UNet, LoRA adapters (the base frozen),
// or a ControlNet. examples/train, examples/finetune and examples/controlnet
// are this one loop with different predictors.
//
// # Data
//
// LoadFlows reads a data set (one pcap per class), keeping a stratified
// subset per class when asked. Prepare turns it into Examples: each flow's
// first Rows packets as the model's input (pcapio.Flow.Matrix, then
// t2t.Matrix.AppendRowPlanes), padded with vacant rows, with its class's
// prompts (its name and alias type-<i>, and with transport prompts "dns
// tcp" when asked). Examples hold float planes; Matrices keeps the ternary
// matrices for what needs them (ControlNet templates).
//
//	ds, err := train.LoadFlows("captures/", cfg.Rows, 0, 2)
//	vocab := unet.NewVocab()
//	d, err := train.Prepare(ds, cfg, vocab, train.PrepareOptions{MinPackets: 2, NewClasses: true, Transport: true})
//
// # The loop
//
// A Trainer runs AdamW with warm-up, cosine decay, gradient clipping,
// prompt dropout (for classifier-free guidance) and EMA weights over the
// parameters of a Predictor that are not frozen. It stops with ErrNonFinite
// before a NaN reaches the weights, checkpoints every CheckpointEvery steps
// into Dir/state and resumes from there; the same seed and data give the
// same weights.
//
//	tr, err := train.NewTrainer(u, train.DefaultConfig(), d.Examples)
//	err = tr.Run(ctx, func(p train.Progress) { ... })
//	err = models.Save(dir, &models.Folder{Model: &unet.Model{UNet: u, Vocab: vocab, Noise: tr.Config.Noise}}, tr.EMA())
package train
