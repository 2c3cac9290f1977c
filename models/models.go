// Package models embeds t2t's default model, so that programs generate
// traffic without any file: a Small UNet trained by examples/train on the
// repository's own captures (testdata/train, 14 classes made with
// ../shared/capture/capture.sh, 48 flows of 32 packets each), in under
// half an hour on a 2-core CPU. Its prompts are the class names and their
// aliases type-0 ... type-13; Default().Meta says which is which.
package models

import (
	"embed"

	"t2t/repair"
	"t2t/unet"
)

//go:embed small/config.json small/vocab.json small/scheduler.json small/model.safetensors small/profile.json
var files embed.FS

// Default loads the embedded model (about 20 MB of weights; each call
// returns a fresh copy).
func Default() (*unet.Model, error) {
	return unet.LoadModelFS(files, "small", "embedded:small")
}

// Profile returns the embedded model's repair profile (JSON for
// repair.ParseProfile).
func Profile() []byte {
	b, err := files.ReadFile("small/profile.json")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// DefaultProfile parses the embedded model's repair profile.
func DefaultProfile() (*repair.Profile, error) { return repair.ParseProfile(Profile()) }
