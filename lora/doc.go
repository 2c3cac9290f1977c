// Package lora adds low-rank adapters (LoRA) to a unet.UNet: small trained
// terms on chosen Linear layers that fine-tune a frozen base model, for
// instance to add a new traffic class from a hundred flows.
//
// An Adapter on a layer y = x·W + b adds
//
//	Δy = Weight · (Alpha/Rank) · x · Down · Up
//
// with Down [In, r] drawn uniformly from ±1/sqrt(In) and Up [r, Out] zero,
// so that a fresh adapter changes nothing. A Set is one named adapter per
// target layer, chosen by name patterns over UNet.Linears (Config.Targets;
// the attention projections by default, "*.conv1" and the like for the
// convolutions). Parameters are named "<layer>.lora.<set>.down" and
// ".up".
//
// Use:
//
//	s, err := lora.New(u, "newclass", cfg, seed)
//	ids, err := s.AddTokens(vocab)   // if cfg.Tokens: the new prompt words
//	restore, err := s.Freeze()        // base frozen, adapters trainable
//	s.Attach()
//	tr, err := train.NewTrainer(u, tc, examples) // trains what is not frozen
//	tr.Run(ctx, nil)
//	restore()                         // token table rows of the base, back
//	s.Save("newclass.safetensors")
//
// and later s, err := lora.Load(path, u); s.AddTokens(vocab); s.Attach().
// Several sets can be attached at once, each with its own SetWeight;
// weights are read when a graph is built, so compile nets again after
// Attach, Detach or SetWeight. Merge folds a set into the base weights
// (and detaches it); Unmerge subtracts it again.
//
// New prompt tokens. Their embeddings are rows of the base's token table
// (tokens.embedding, rows not used by the base vocabulary). While a set
// with tokens trains, Freeze leaves the whole table trainable; the
// function it returns puts back every row but the new tokens' after
// training, so the base prompts are unchanged. Save stores the new rows
// ("lora.<set>.tokens", [len(Tokens), ContextDim]); AddTokens on a loaded
// set writes them back at the ids the vocabulary gives.
//
// Files are safetensors holding only the adapter (and token rows), with
// the set's name, its Config as JSON and the base model's Fingerprint (a
// SHA-256 over the base weights but the token table) in the metadata.
// Load refuses another base (unet.ErrWrongBase, both fingerprints named), a
// truncated file, missing or extra tensors and wrong shapes.
//
// Set.Extra is saved as free-form metadata: examples/finetune stores the
// repair profile and names of the classes an adapter adds there, and
// t2t/pipeline.AttachAdapter reads them back ("file[:weight]").
//
// Not implemented: adapter dropout (Config.Dropout must be 0).
package lora
