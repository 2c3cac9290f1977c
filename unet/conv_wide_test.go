package unet

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestConv1DWide checks the convolution against a plain sum at the
// widths where gorgonia's slice hashing once merged taps (128, 256 input
// channels) and around them, with and without the concatenated
// neighbours adapters see.
func TestConv1DWide(t *testing.T) {
	const b, l = 2, 8
	for _, viaNeighbours := range []bool{false, true} {
		for _, io := range [][2]int{{100, 100}, {128, 128}, {129, 128}, {128, 192}, {192, 128}, {256, 256}, {384, 64}} {
			in, out := io[0], io[1]
			ps := NewParams(tensor.Float32)
			rng := rand.New(rand.NewPCG(1, 2))
			c := NewConv1D(ps, "c", in, out, false, rng)
			randomize32(ps, rng, 0.1)
			xv := make([]float32, b*l*in)
			for i := range xv {
				xv[i] = float32(rng.NormFloat64())
			}
			g := NewGraph(ps)
			x := G.NewTensor(g.G, tensor.Float32, 3, G.WithShape(b, l, in), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(b, l, in), tensor.WithBacking(append([]float32(nil), xv...)))))
			var y *G.Node
			if viaNeighbours {
				y = c.Linear.Forward(g, c.neighbours(g, x))
			} else {
				y = c.Forward(g, x)
			}
			m := G.NewTapeMachine(g.G)
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			got := y.Value().Data().([]float32)
			w := ps.Get("c.weight").Float32s()
			bb := ps.Get("c.bias").Float32s()
			ref := make([]float32, b*l*out)
			for s := 0; s < b; s++ {
				for q := 0; q < l; q++ {
					for o := 0; o < out; o++ {
						acc := float64(bb[o])
						for k := 0; k < 3; k++ {
							qq := q + k - 1
							if qq < 0 || qq >= l {
								continue
							}
							for i := 0; i < in; i++ {
								acc += float64(xv[(s*l+qq)*in+i]) * float64(w[(k*in+i)*out+o])
							}
						}
						ref[(s*l+q)*out+o] = float32(acc)
					}
				}
			}
			if d := relDiff(got, ref); d > 1e-5 {
				t.Errorf("%dx%d (neighbours %v): off by %.3g of the output's scale", in, out, viaNeighbours, d)
			}
			m.Close()
		}
	}
}

func TestLegacyTaps(t *testing.T) {
	for in, want := range map[int][3]int{64: {0, 1, 2}, 128: {0, 1, 0}, 192: {0, 1, 2}, 256: {1, 1, 1}, 384: {0, 1, 0}, 448: {0, 1, 2}} {
		if got := LegacyTaps(in); got != want {
			t.Errorf("LegacyTaps(%d) = %v, want %v", in, got, want)
		}
	}
	u, err := New(Small(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	w := u.Params.Get("down.0.res.0.conv1.weight").Float32s()
	block := 128 * 128
	before := Fingerprint(u)
	changed := u.KeepLegacyTaps()
	after := Fingerprint(u)
	if after == before {
		t.Fatal("the rewrite left the fingerprint as it was")
	}
	// files made for the weights as read, or as rewritten, fit; others not
	for _, fp := range []string{before, after} {
		if err := CheckFile(map[string]string{FormatKey: "f", "fp": fp}, "f", "a test", "fp", u, "x"); err != nil {
			t.Errorf("fingerprint %.8s: %v", fp, err)
		}
	}
	for _, fp := range []string{"", "0123"} {
		if err := CheckFile(map[string]string{FormatKey: "f", "fp": fp}, "f", "a test", "fp", u, "x"); err == nil {
			t.Errorf("fingerprint %q fits", fp)
		}
	}
	// 128 input channels: down.0 conv1 and conv2, down.1 conv1, up.0
	// conv2; 256: up.0 conv1; 384: up.1 conv1
	if len(changed) != 6 {
		t.Errorf("changed %v, want 6 layers", changed)
	}
	for i := 0; i < block; i++ {
		if w[2*block+i] != w[i] {
			t.Fatalf("tap 2 of down.0.res.0.conv1 does not read tap 0's block")
		}
	}
	found := map[string]bool{}
	for _, c := range changed {
		found[c] = true
	}
	for _, name := range []string{"down.0.res.0.conv1", "down.0.res.0.conv2", "down.1.res.0.conv1", "up.0.res.0.conv1", "up.0.res.0.conv2", "up.1.res.0.conv1"} {
		if !found[name] {
			t.Errorf("%s not rewritten (changed: %v)", name, changed)
		}
	}
	if found["mid.res.0.conv1"] {
		t.Errorf("224-channel layer rewritten")
	}
}
