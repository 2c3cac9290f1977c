// Package models owns the model folder and embeds t2t's default model.
//
// # The model folder
//
// A model folder holds a trained UNet and what generation needs with it;
// Save writes one and Load reads one (the embedded model when the folder is
// ""). No other package reads or writes these files:
//
//	config.json             unet.Config: the architecture
//	vocab.json              unet.Vocab: the prompt words
//	scheduler.json          sampler.Config: the noise schedule it was trained with
//	model.safetensors       the weights (unet.Model.Meta as metadata: classes, steps, data)
//	profile.json            repair.Profile of the training data (optional)
//	controlnet.safetensors  a ControlNet with the templates of the training flows (optional)
//	templates.json          the structures of the training flows, for masked models (optional)
//	train.json              Record: how it was trained (optional)
//	state/                  checkpoints of a training run (train.Trainer)
//
// # The embedded model
//
// A Small UNet trained by examples/train as a masked diffusion model
// (sampler.Mask, 4,000 steps, about 30 minutes on a 2-core CPU) on the
// repository's own captures: testdata/train, 80% of the flows of the 14
// classes of ../shared/capture/capture.sh's seed-42 run (1,887 flows of up to
// 32 packets; testdata/heldout holds the rest), with the structures of those
// flows (templates.json), from which generation starts each flow. Its
// prompts are the class names, their aliases type-0 ... type-13 and the
// transport words tcp, udp, icmp ("dns tcp"); Default().Meta says which
// class is which.
package models

import (
	"embed"

	"t2t/repair"
	"t2t/unet"
)

//go:embed small/config.json small/vocab.json small/scheduler.json small/model.safetensors small/profile.json small/templates.json
var files embed.FS

// Default loads the embedded model alone (about 20 MB of weights; each
// call returns a fresh copy).
func Default() (*unet.Model, error) {
	return loadModel(files, "small", "embedded:small")
}

// Profile returns the embedded model's repair profile (JSON for
// repair.ParseProfile).
func Profile() []byte {
	b, err := files.ReadFile("small/" + ProfileFile)
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// DefaultProfile parses the embedded model's repair profile.
func DefaultProfile() (*repair.Profile, error) { return repair.ParseProfile(Profile()) }
