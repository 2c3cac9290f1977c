package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"t2t"
	"testing"

	"t2t/controlnet"
	"t2t/evaluate"
	"t2t/internal/cli"
	"t2t/internal/replaytest"
	"t2t/internal/safetensors"
	"t2t/internal/testmodel"
	"t2t/lora"
	"t2t/models"
	"t2t/pcapio"
	"t2t/unet"
)

func tinyModel(t *testing.T) string { return testmodel.Tiny(t, "../..") }

// TestGenerate runs the command on a barely trained model: whatever the
// model samples, the pcap it writes is valid (repair), the same seed gives
// the same bytes, and PNGs are written per flow.
func TestGenerate(t *testing.T) {
	model := tinyModel(t)
	dir := t.TempDir()
	var pcaps [][]byte
	for k, prompt := range []string{"ssh", "type-0", "ssh"} {
		out := filepath.Join(dir, "g.pcap")
		png := filepath.Join(dir, "png")
		var stdout strings.Builder
		args := []string{"-model", model, "-prompt", prompt, "-n", "3", "-steps", "4", "-seed", "7", "-out", out, "-png", png, "-png-scale", "1"}
		if k != 1 {
			args = append(args, "-q")
		}
		err := run(context.Background(), args, &stdout, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		c, err := evaluate.CheckFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if c.Errors() != 0 || c.Packets == 0 {
			t.Fatalf("%s: %d compliance errors in %d packets: %s", prompt, c.Errors(), c.Packets, strings.Join(c.Problems, "; "))
		}
		checkImages(t, out, png)
		if k != 1 && stdout.Len() > 0 {
			t.Errorf("-q printed %q", stdout.String())
		}
		b, _ := os.ReadFile(out)
		if k != 1 {
			pcaps = append(pcaps, b)
		}
		if k == 1 && !strings.Contains(stdout.String(), "class dns") {
			t.Errorf("type-0 should map to class dns: %s", stdout.String())
		}
	}
	if !bytes.Equal(pcaps[0], pcaps[1]) {
		t.Error("same seed, different pcap")
	}
}

// checkImages checks that -png wrote n images named like pcap2png's and
// the legend, and that the images are the flows the pcap holds: read back
// as flows, their packets' headers are the pcap's packets', in order.
func checkImages(t *testing.T, pcap, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "legend.txt")); err != nil {
		t.Error("no legend.txt beside the images")
	}
	l := t2t.NetDiffusionSpec.MustLayout()
	flows, _, err := pcapio.AssembleFile(pcap, pcapio.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	if len(files) != len(flows) || len(flows) == 0 {
		t.Fatalf("%d PNGs for the %d flows of the pcap", len(files), len(flows))
	}
	for i, f := range flows {
		want, err := f.Matrix(l, len(f.Packets))
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, fmt.Sprintf("%s-%05d.png", strings.TrimSuffix(filepath.Base(pcap), ".pcap"), i))
		got, err := t2t.ReadPNGFile(name, l)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rows < want.Rows {
			t.Fatalf("%s: %d rows, the pcap's flow has %d packets", name, got.Rows, want.Rows)
		}
		for r := 0; r < want.Rows; r++ {
			for c := 0; c < l.Width(); c++ {
				if got.Bit(r, c) != want.Bit(r, c) {
					t.Fatalf("%s: row %d column %s: image %d, pcap %d", name, r, l.Columns()[c], got.Bit(r, c), want.Bit(r, c))
				}
			}
		}
		for r := want.Rows; r < got.Rows; r++ {
			for c := 0; c < l.Width(); c++ {
				if got.Bit(r, c) != -1 {
					t.Fatalf("%s: row %d past the flow's end is not vacant", name, r)
				}
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	model := tinyModel(t)
	// errors found before any sampling, naming the flag
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-prompt", "ssh", "-n", "0"}, "-n 0"},
		{[]string{"-prompt", "ssh", "-steps", "-1"}, "-steps -1"},
		{[]string{"-prompt", "ssh", "-out", filepath.Join(t.TempDir(), "no", "such", "x.pcap")}, "-out"},
		{[]string{"-prompt", "ssh", "-png", "main.go"}, "-png main.go: is a file"},
		{[]string{"-prompt", "ssh", "-lora", "nosuch.safetensors"}, "-lora nosuch.safetensors"},
		{[]string{"-prompt", "ssh", "-png-scale", "0"}, "-png-scale 0"},
	} {
		err := run(context.Background(), append([]string{"-model", model}, c.args...), io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error starting %q", c.args, err, c.want)
		}
	}
	for _, args := range [][]string{
		{"-model", model}, // no prompt
		{"-model", model, "-prompt", "nosuchclass"}, // unknown prompt
		{"-model", model, "-prompt", "ssh", "-payload", "x"},
		{"-model", t.TempDir(), "-prompt", "ssh"}, // no model there
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// tsharkProblems counts packets that tshark, with checksum validation on
// and every dissector, finds malformed, in error or with a bad checksum;
// the test is skipped without tshark.
func tsharkProblems(t *testing.T, path string) int {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command("tshark", "-n", "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", `_ws.malformed || _ws.expert.severity == error || ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad"`,
		"-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return len(strings.Fields(string(out)))
}

// TestEmbeddedModelPcapsAreValid generates flows of every class with the
// embedded model and checks the pcaps: tshark finds nothing wrong, every
// TCP flow has its handshake and coherent sequence numbers (evaluate's
// compliance), with whole packets (-payload zeros, checksums verifiable)
// and with the default header-only capture.
func TestEmbeddedModelPcapsAreValid(t *testing.T) {
	if testing.Short() {
		t.Skip("samples 28 flows (up to 1,024 packets each) with the Small model")
	}
	dir := t.TempDir()
	for _, prompt := range []string{"type-0", "type-1", "type-2", "type-3", "type-4", "type-5", "type-6",
		"type-7", "type-8", "type-9", "type-10", "type-11", "type-12", "type-13"} {
		for _, payload := range []string{"snap", "zeros"} {
			out := filepath.Join(dir, prompt+payload+".pcap")
			if err := run(context.Background(), []string{"-prompt", prompt, "-n", "2", "-steps", "4", "-payload", payload, "-out", out, "-q"}, io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			c, err := evaluate.CheckFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if c.Errors() != 0 || c.Packets == 0 {
				t.Errorf("%s %s: %d compliance errors in %d packets: %s", prompt, payload, c.Errors(), c.Packets, strings.Join(c.Problems, "; "))
			}
			if payload == "snap" { // zero payloads may upset application dissectors
				if n := tsharkProblems(t, out); n != 0 {
					t.Errorf("%s: tshark flags %d packets", prompt, n)
				}
			}
		}
	}
}

// TestGenerateWithAdapter: -lora file[:weight] loads an adapter with a new
// prompt word onto the model. The adapter is fresh (it adds nothing) and
// its word's embedding is ssh's, so "novel" must sample exactly the flow
// images "ssh" does with the same seed. A file that is not an adapter for
// this model is refused.
func TestGenerateWithAdapter(t *testing.T) {
	model := tinyModel(t)
	f, err := models.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Model
	cfg := lora.DefaultConfig()
	cfg.Tokens = []string{"novel"}
	s, err := lora.New(m.UNet, "novel", cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := s.AddTokens(m.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	ssh, _ := m.Vocab.ID("ssh")
	emb := m.UNet.Params.Get(lora.TokensParam).Float32s()
	d := m.UNet.Config.ContextDim
	copy(emb[ids[0]*d:(ids[0]+1)*d], emb[ssh*d:(ssh+1)*d])
	dir := t.TempDir()
	path := filepath.Join(dir, "novel.safetensors")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "g.pcap")
	if err := run(context.Background(), []string{"-model", model, "-prompt", "novel", "-n", "2", "-steps", "3", "-out", out, "-q"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown prompt without the adapter: no error")
	}
	var stderr strings.Builder
	pngA, pngB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := run(context.Background(), []string{"-model", model, "-lora", path + ":0.5", "-prompt", "novel", "-n", "2", "-steps", "4", "-seed", "7", "-out", out, "-png", pngA, "-raw", "-png-scale", "1", "-transport", "none"}, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "adapter novel") {
		t.Errorf("no adapter line: %q", stderr.String())
	}
	if err := run(context.Background(), []string{"-model", model, "-lora", path + ":0.5", "-prompt", "novel", "-n", "2", "-steps", "4", "-seed", "7", "-out", out, "-q", "-transport", "none"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if c, err := evaluate.CheckFile(out); err != nil || c.Errors() != 0 {
		t.Fatalf("adapter flows: %v, %+v", err, c)
	}
	if err := run(context.Background(), []string{"-model", model, "-prompt", "ssh", "-n", "2", "-steps", "4", "-seed", "7", "-out", out, "-png", pngB, "-raw", "-png-scale", "1", "-q", "-transport", "none"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"g-00000.png", "g-00001.png"} {
		a, errA := os.ReadFile(filepath.Join(pngA, f))
		b, errB := os.ReadFile(filepath.Join(pngB, f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s: novel (fresh adapter, ssh's embedding) differs from ssh (%v %v)", f, errA, errB)
		}
	}
	if err := run(context.Background(), []string{"-model", model, "-lora", filepath.Join(model, "model.safetensors"), "-prompt", "dns", "-out", out, "-q"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not an adapter") {
		t.Fatalf("base weights as an adapter: %v", err)
	}
}

// TestGenerateWithControl: -controlnet with -control-from or -control
// (PNG) steers the model; an untrained ControlNet adds nothing, so the
// flow images must be those of the model alone with the control's
// transport. Conflicting or bad controls are refused.
func TestGenerateWithControl(t *testing.T) {
	model := tinyModel(t)
	f, err := models.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	m := f.Model
	cn, err := controlnet.New(m.UNet, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cnPath := filepath.Join(dir, "cn.safetensors")
	if err := cn.Save(cnPath, nil); err != nil {
		t.Fatal(err)
	}
	flow := "../../testdata/captures/dns-200.pcap:1"
	c, err := cli.ControlFromPcap(flow, m.UNet.Config.Layout.MustLayout(), m.UNet.Config.Rows)
	if err != nil {
		t.Fatal(err)
	}
	pngCtl := filepath.Join(dir, "control.png")
	if err := c.WritePNGFile(pngCtl); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "g.pcap")
	gen := func(png string, extra ...string) {
		t.Helper()
		args := append([]string{"-model", model, "-prompt", "dns", "-n", "2", "-steps", "4", "-seed", "7", "-out", out, "-png", filepath.Join(dir, png), "-raw", "-png-scale", "1"}, extra...)
		var stderr strings.Builder
		if err := run(context.Background(), args, io.Discard, &stderr); err != nil {
			t.Fatal(err)
		}
		if len(extra) > 2 && !strings.Contains(stderr.String(), "control: 2 packets (udp)") {
			t.Fatalf("control line: %q", stderr.String())
		}
	}
	gen("base", "-transport", "udp")
	gen("from", "-controlnet", cnPath, "-control-from", flow)
	gen("png", "-controlnet", cnPath, "-control", pngCtl, "-control-scale", "0.5")
	for _, f := range []string{"g-00000.png", "g-00001.png"} {
		a, _ := os.ReadFile(filepath.Join(dir, "base", f))
		for _, d := range []string{"from", "png"} {
			b, err := os.ReadFile(filepath.Join(dir, d, f))
			if err != nil || !bytes.Equal(a, b) {
				t.Fatalf("%s/%s differs from the model alone (%v)", d, f, err)
			}
		}
	}
	wide := filepath.Join(dir, "wide.png")
	os.WriteFile(wide, []byte("not a png"), 0o644)
	for _, args := range [][]string{
		{"-controlnet", cnPath, "-control", pngCtl, "-control-from", flow},
		{"-controlnet", cnPath, "-control", wide},
		{"-controlnet", filepath.Join(model, "model.safetensors"), "-control", pngCtl},
		{"-control", pngCtl}, // no controlnet.safetensors in the model folder
	} {
		if err := run(context.Background(), append([]string{"-model", model, "-prompt", "dns", "-n", "1", "-steps", "2", "-out", out, "-q"}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestGenerateWrongOutput: what used to give garbage or an empty pcap with
// exit status 0 is an error saying what is wrong (issue 17, items 9 and
// 12): weights scaled up, a ControlNet scale of -5, a config asking
// for more rows than the model was trained on, NaN flags, a -control-from
// index that is no number.
func TestGenerateWrongOutput(t *testing.T) {
	model := tinyModel(t)
	scaled := t.TempDir()
	for _, f := range []string{models.ConfigFile, models.VocabFile, models.NoiseFile, models.ProfileFile} {
		b, err := os.ReadFile(filepath.Join(model, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(scaled, f), b, 0o644)
	}
	ts, meta, err := safetensors.Load(filepath.Join(model, models.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		for i := range x.Data {
			x.Data[i] *= 100
		}
	}
	if err := safetensors.Save(filepath.Join(scaled, models.WeightsFile), ts, meta); err != nil {
		t.Fatal(err)
	}
	rows := t.TempDir()
	for _, f := range []string{models.VocabFile, models.NoiseFile, models.WeightsFile} {
		b, _ := os.ReadFile(filepath.Join(model, f))
		os.WriteFile(filepath.Join(rows, f), b, 0o644)
	}
	cfg, err := unet.ReadConfig(filepath.Join(model, models.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rows *= 2
	cfg.WriteFile(filepath.Join(rows, models.ConfigFile))

	out := filepath.Join(t.TempDir(), "g.pcap")
	for _, c := range []struct {
		args []string
		want string
	}{
		// weights scaled by 100 (1e30 likewise): noise repair cannot use, or NaN
		{[]string{"-model", scaled, "-prompt", "dns"}, "model's output"},
		{[]string{"-prompt", "dns", "-control-scale", "-5"}, "-control-scale"},
		{[]string{"-model", rows, "-prompt", "dns"}, "rows 16"},
		{[]string{"-prompt", "dns", "-guidance", "NaN"}, "-guidance"},
		{[]string{"-prompt", "dns", "-control-scale", "NaN"}, "-control-scale"},
		{[]string{"-prompt", "dns", "-control-from", "../../testdata/captures/dns-200.pcap:abc"}, `index "abc"`},
	} {
		args := append(c.args, "-n", "2", "-steps", "2", "-q", "-out", out)
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		} else {
			t.Logf("%v: %v", c.args[:2], err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: wrote %s", c.args, out)
			os.Remove(out)
		}
	}
}

// TestReplay replays generated pcaps with tcpreplay on the loopback
// interface (skipped without tcpreplay, or without the right to send raw
// frames): with -payload zeros every packet is sent whole, its wire
// length; by default (-payload snap) the pcap holds the headers only and
// tcpreplay sends what is stored, less than the wire lengths.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	for _, payload := range []string{"zeros", "snap"} {
		out := filepath.Join(dir, payload+".pcap")
		if err := run(context.Background(), []string{"-prompt", "http", "-n", "2", "-steps", "6", "-payload", payload, "-out", out, "-q"}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		r := replaytest.Replay(t, out)
		switch payload {
		case "zeros":
			if r.Bytes != r.Wire || r.Stored != r.Wire {
				t.Errorf("-payload zeros: %d bytes sent, %d stored, packets' wire lengths sum to %d: not sent whole", r.Bytes, r.Stored, r.Wire)
			}
		case "snap":
			if r.Bytes != r.Stored || r.Stored >= r.Wire {
				t.Errorf("-payload snap: %d bytes sent, %d stored, wire %d: want the stored headers only, less than the wire lengths", r.Bytes, r.Stored, r.Wire)
			}
		}
		t.Logf("-payload %s: %d packets, %d bytes sent (wire lengths %d)", payload, r.Sent, r.Bytes, r.Wire)
	}
}
