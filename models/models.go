// Package models embeds t2t's default model, so that programs generate
// traffic without any file: a Small UNet trained by examples/train on the
// repository's own captures (testdata/train, 14 classes made with
// ../shared/capture/capture.sh, 64 flows of 32 packets each), in under
// half an hour on a 2-core CPU, and a ControlNet for it (examples/controlnet,
// stored in half precision) with the structure templates of those flows.
// Its prompts are the class names, their aliases type-0 ... type-13 and
// the transport words tcp, udp, icmp ("dns tcp"); Default().Meta says which
// class is which.
package models

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"t2t/controlnet"
	"t2t/repair"
	"t2t/unet"
)

//go:embed small/config.json small/vocab.json small/scheduler.json small/model.safetensors small/profile.json small/controlnet.safetensors
var files embed.FS

// ControlNetFile is a model folder's ControlNet, when it has one.
const ControlNetFile = "controlnet.safetensors"

// ControlNetFlag resolves a -controlnet flag for m, the model in dir
// ("" embedded): "none" gives none, "" the model's own (ControlNet; nil
// when it has none), anything else the file at that path. A scale other
// than 0 replaces the file's conditioning scale.
func ControlNetFlag(flag, dir string, m *unet.Model, scale float64) (*controlnet.ControlNet, error) {
	var cn *controlnet.ControlNet
	var err error
	switch flag {
	case "none":
		return nil, nil
	case "":
		cn, err = ControlNet(dir, m)
	default:
		cn, _, err = controlnet.Load(flag, m.UNet)
	}
	if err != nil || cn == nil {
		return nil, err
	}
	if scale != 0 {
		cn.Scale = scale
	}
	return cn, nil
}

// ControlNet loads the ControlNet of the model in dir (the embedded one
// when dir is "") for m, that model. A folder without ControlNetFile gives
// nil and no error.
func ControlNet(dir string, m *unet.Model) (*controlnet.ControlNet, error) {
	if dir == "" {
		f, err := files.Open("small/" + ControlNetFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		n, _, err := controlnet.Read(f, "embedded:small/"+ControlNetFile, m.UNet)
		return n, err
	}
	path := filepath.Join(dir, ControlNetFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	n, _, err := controlnet.Load(path, m.UNet)
	return n, err
}

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

// ProfileFile is the repair profile's file in a model folder.
const ProfileFile = "profile.json"

// Load returns the model in dir with its repair profile, or the embedded
// model and profile when dir is "". A folder without profile.json gives a
// nil profile (repair then uses its defaults).
func Load(dir string) (*unet.Model, *repair.Profile, error) {
	if dir == "" {
		m, err := Default()
		if err != nil {
			return nil, nil, err
		}
		p, err := DefaultProfile()
		return m, p, err
	}
	m, err := unet.LoadModel(dir)
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, ProfileFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := repair.ParseProfile(b)
	if err != nil {
		return nil, nil, fmt.Errorf("models: %s: %w", filepath.Join(dir, ProfileFile), err)
	}
	return m, p, nil
}
