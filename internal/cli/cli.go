// Package cli holds what the example commands share: a repeatable flag,
// the -controlnet and -control-from flags,
// running a train.Trainer with resume, a progress line, Ctrl-C and a
// loss plot.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"t2t"
	"time"

	"t2t/controlnet"
	"t2t/internal/plot"
	"t2t/models"
	"t2t/pcapio"
	"t2t/train"
)

// Multi is a repeatable string flag (flag.Var).
type Multi []string

func (m *Multi) String() string     { return strings.Join(*m, ",") }
func (m *Multi) Set(v string) error { *m = append(*m, v); return nil }

// Train runs tr, checkpointing into tr.Dir: it first resumes from the
// checkpoint there when resume is set, shows a progress line on log at
// most once a second (none when quiet), and on Ctrl-C (ctx cancelled) says
// where the checkpoint is and returns done == false with no error. name
// starts every message ("train: resumed at step 6"). each, when not nil,
// is called after every step (snapshots of the weights along the way).
func Train(ctx context.Context, tr *train.Trainer, name string, resume, quiet bool, log io.Writer, each ...func(train.Progress)) (done bool, err error) {
	if resume {
		ok, err := tr.Resume()
		if err != nil {
			return false, err
		}
		if ok {
			fmt.Fprintf(log, "%s: resumed at step %d\n", name, tr.Step)
		}
	}
	if err := os.MkdirAll(tr.Dir, 0o755); err != nil {
		return false, err
	}
	last := time.Now()
	err = tr.Run(ctx, func(p train.Progress) {
		for _, f := range each {
			f(p)
		}
		if quiet || (time.Since(last) < time.Second && p.Step != p.Steps) {
			return
		}
		last = time.Now()
		eta := time.Duration(p.Steps-p.Step) * p.StepTime
		fmt.Fprintf(log, "\rstep %d/%d  loss %.4f (avg %.4f)  lr %.2g  |g| %.2f  %.2fs/step  eta %v   ",
			p.Step, p.Steps, p.Loss, p.AvgLoss, p.LR, p.GradNorm, p.StepTime.Seconds(), eta.Round(time.Second))
		if p.Step == p.Steps {
			fmt.Fprintln(log)
		}
	})
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(log, "\n%s: stopped at step %d; checkpoint saved in %s, continue with -resume\n", name, tr.Step, tr.Dir)
		return false, nil
	}
	return err == nil, err
}

// LossPlot draws a training run's loss curve (raw and smoothed over 50
// steps) to path; runs of fewer than two steps draw nothing.
func LossPlot(path string, losses []float64) error {
	if len(losses) < 2 {
		return nil
	}
	return plot.Lines(path, 800, 300, true, losses, plot.Smooth(losses, 50))
}

// ControlNetFlag resolves a -controlnet flag for the model folder f: "none"
// gives none, "" the folder's own (nil when it has none), anything else the
// ControlNet file at that path. A scale other than 0 replaces the file's
// conditioning scale.
func ControlNetFlag(flag string, f *models.Folder, scale float64) (*controlnet.ControlNet, error) {
	cn := f.ControlNet
	switch flag {
	case "none":
		return nil, nil
	case "":
	default:
		var err error
		if cn, _, err = controlnet.Load(flag, f.Model.UNet); err != nil {
			return nil, err
		}
	}
	if scale != 0 {
		if err := controlnet.CheckScale(scale); err != nil {
			return nil, fmt.Errorf("-control-scale: %w", err)
		}
		if cn != nil {
			cn.Scale = scale
		}
	}
	return cn, nil
}

// Finite returns an error naming the flag when v is NaN or infinite.
func Finite(flag string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s %g: want a finite number", flag, v)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ControlFromPcap reads spec "file.pcap[:index]" and returns the structure map of
// its index-th flow (0 when absent; flows in order of their first packet).
func ControlFromPcap(spec string, layout *t2t.Layout, rows int) (*controlnet.Control, error) {
	path, index := spec, 0
	if i := strings.LastIndexByte(spec, ':'); i >= 0 {
		n, err := strconv.Atoi(spec[i+1:])
		switch {
		case err == nil:
			path, index = spec[:i], n
		case !exists(spec):
			return nil, fmt.Errorf("%s: flow index %q after the ':' is not a number (want file.pcap[:index])", spec, spec[i+1:])
		}
	}
	flows, _, err := pcapio.AssembleFile(path, pcapio.FlowOptions{MaxPackets: rows})
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(flows) {
		return nil, fmt.Errorf("%s: flow %d asked, the capture has %d flows", path, index, len(flows))
	}
	m, err := flows[index].Matrix(layout, rows)
	if err != nil {
		return nil, err
	}
	return controlnet.FromMatrix(m, rows), nil
}
