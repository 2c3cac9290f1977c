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
//	train.json              Record: how it was trained (optional)
//	state/                  checkpoints of a training run (train.Trainer)
//
// # The embedded model
//
// A Small UNet trained by examples/train on the repository's own captures
// (testdata/train, 14 classes made with ../shared/capture/capture.sh, 64
// flows of 32 packets each), in under half an hour on a 2-core CPU, and a
// ControlNet for it (examples/controlnet, stored in half precision) with the
// structure templates of those flows. Its prompts are the class names, their
// aliases type-0 ... type-13 and the transport words tcp, udp, icmp ("dns
// tcp"); Default().Meta says which class is which.
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
