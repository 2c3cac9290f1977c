// Package prog describes a model's forward pass as a flat program: a list
// of operations over numbered float32 buffers, with the weights they read.
// It is what a device backend (t2t/internal/cuda) runs, and Run, in this
// package, runs it on the CPU as the reference the backend is tested
// against. It imports nothing but the standard library: a build with the
// cuda tag must not pull in gorgonia, whose own cuda tag wants cuDNN.
//
// unet.UNet.Program and controlnet.ControlNet.Program build programs for
// a batch size; the buffers are channels-last activations ([B, L, C]
// flattened), so the UNet's reshapes (halving and doubling the packet
// axis) cost nothing: an operation reads a buffer with the dimensions it
// is given.
package prog

import (
	"fmt"
	"math"
)

// Kind is an operation.
type Kind uint8

const (
	// Linear: Dst[N, Out] = A[N, In]·W[In, Out] + Bias.
	Linear Kind = iota
	// Conv3: a convolution of kernel 3, zero padding 1, along L:
	// Dst[b, l, :] = Σ_k A[b, l+k-1, :]·W[k·In:(k+1)·In, :] + Bias, for A
	// [N/L, L, In] and W [3·In, Out].
	Conv3
	// GroupNorm: Dst[B, L, C] = A normalised over each sample's groups of
	// C/Groups channels and all L positions, times W (gamma) plus Bias
	// (beta); SiLU after it when Act.
	GroupNorm
	// LayerNorm: Dst[N, C] = each row of A normalised, times W plus Bias.
	LayerNorm
	// SiLU: Dst = A·sigmoid(A), over N·In values.
	SiLU
	// Add: Dst = A + Scale·B, over N·In values.
	Add
	// AddRows: Dst[b, l, :] = A[b, l, :] + B[b, :] for A [N/L, L, In].
	AddRows
	// Concat: Dst[N, In+Out] = A[N, In] next to B[N, Out].
	Concat
	// Attention: Dst[b, l, :] = softmax(q·kᵀ·Scale)·v per head, for
	// q = A [N/L, L, In], k = B and v = C [N/L, T, In] (T = Out), Heads
	// heads of In/Heads channels.
	Attention
	// Embed: Dst[N, Out] = rows of W [V, Out] picked by the ids in A (N
	// values).
	Embed
	// MeanRows: Dst[b, :] = the mean over l of A[b, l, :] for A
	// [N/L, L, In].
	MeanRows
)

var kindNames = [...]string{"linear", "conv3", "groupnorm", "layernorm", "silu", "add", "addrows", "concat", "attention", "embed", "meanrows"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// None marks an absent buffer or parameter.
const None = -1

// Op is one operation. Buffers and parameters are indices into the
// Program's Sizes and Params.
type Op struct {
	Kind    Kind
	Dst     int
	A, B, C int // operand buffers (None where the kind takes fewer)
	W, Bias int // parameters (None where absent)
	// N rows, L positions per sample (rows of a sample: N = batch·L),
	// In and Out widths, as each kind reads them.
	N, L, In, Out int
	Groups, Heads int
	Eps, Scale    float64
	Act           bool // SiLU after a norm
}

// Tensor is a named weight.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Program is a forward pass for one batch size.
type Program struct {
	Batch  int
	Sizes  []int // values per buffer
	Params []Tensor
	Ops    []Op
	// Inputs: X [Batch, Rows, 3·Cols] the noisy sample, Time
	// [Batch, TimeDim] the sinusoidal timestep embedding, Tokens
	// [Batch·MaxTokens] the prompt's token ids as float32, Control
	// [Batch, Rows, Cols] a ControlNet's structure map (None without).
	X, Time, Tokens, Control int
	Out                      int
}

// Builder assembles a Program.
type Builder struct {
	p      *Program
	params map[string]int
}

// NewBuilder starts a program for batches of batch samples.
func NewBuilder(batch int) *Builder {
	return &Builder{p: &Program{Batch: batch, X: None, Time: None, Tokens: None, Control: None, Out: None}, params: map[string]int{}}
}

// Buffer adds a buffer of size values and returns its index.
func (b *Builder) Buffer(size int) int {
	b.p.Sizes = append(b.p.Sizes, size)
	return len(b.p.Sizes) - 1
}

// Param adds a weight (once per name: a second call returns the first
// index) and returns its index.
func (b *Builder) Param(name string, shape []int, data []float32) int {
	if i, ok := b.params[name]; ok {
		return i
	}
	b.p.Params = append(b.p.Params, Tensor{Name: name, Shape: append([]int(nil), shape...), Data: data})
	b.params[name] = len(b.p.Params) - 1
	return len(b.p.Params) - 1
}

// Emit appends o with a new destination buffer of size values and
// returns that buffer.
func (b *Builder) Emit(o Op, size int) int {
	o.Dst = b.Buffer(size)
	b.p.Ops = append(b.p.Ops, o)
	return o.Dst
}

// Inputs names the input buffers.
func (b *Builder) Inputs(x, time, tokens, control int) {
	b.p.X, b.p.Time, b.p.Tokens, b.p.Control = x, time, tokens, control
}

// Program returns the program with out as its output, checked.
func (b *Builder) Program(out int) (*Program, error) {
	b.p.Out = out
	if err := b.p.Check(); err != nil {
		return nil, err
	}
	return b.p, nil
}

// Check verifies that every operation reads and writes buffers and
// weights of the sizes its dimensions imply, so that no backend indexes
// past an allocation.
func (p *Program) Check() error {
	buf := func(i int) int {
		if i < 0 || i >= len(p.Sizes) {
			return -1
		}
		return p.Sizes[i]
	}
	par := func(i int) int {
		if i < 0 || i >= len(p.Params) {
			return -1
		}
		return len(p.Params[i].Data)
	}
	for k, o := range p.Ops {
		bad := func(what string, got, want int) error {
			return fmt.Errorf("prog: op %d (%v): %s holds %d values, want %d", k, o.Kind, what, got, want)
		}
		type need struct {
			what string
			got  int
			want int
		}
		var ns []need
		if o.N <= 0 || o.In <= 0 {
			return fmt.Errorf("prog: op %d (%v): rows %d and width %d must be positive", k, o.Kind, o.N, o.In)
		}
		if o.Kind == Conv3 || o.Kind == AddRows || o.Kind == Attention || o.Kind == MeanRows || o.Kind == GroupNorm {
			if o.L <= 0 || o.N%o.L != 0 {
				return fmt.Errorf("prog: op %d (%v): %d rows are not samples of %d", k, o.Kind, o.N, o.L)
			}
		}
		switch o.Kind {
		case Linear, Conv3:
			taps := 1
			if o.Kind == Conv3 {
				taps = 3
			}
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"W", par(o.W), taps * o.In * o.Out}, {"Dst", buf(o.Dst), o.N * o.Out}}
			if o.Bias != None {
				ns = append(ns, need{"Bias", par(o.Bias), o.Out})
			}
		case GroupNorm, LayerNorm:
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"W", par(o.W), o.In}, {"Bias", par(o.Bias), o.In}, {"Dst", buf(o.Dst), o.N * o.In}}
			if o.Kind == GroupNorm && (o.Groups <= 0 || o.In%o.Groups != 0) {
				return fmt.Errorf("prog: op %d (groupnorm): %d channels in %d groups", k, o.In, o.Groups)
			}
		case SiLU:
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"Dst", buf(o.Dst), o.N * o.In}}
		case Add:
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"B", buf(o.B), o.N * o.In}, {"Dst", buf(o.Dst), o.N * o.In}}
		case AddRows:
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"B", buf(o.B), o.N / o.L * o.In}, {"Dst", buf(o.Dst), o.N * o.In}}
		case Concat:
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"B", buf(o.B), o.N * o.Out}, {"Dst", buf(o.Dst), o.N * (o.In + o.Out)}}
		case Attention:
			if o.Heads <= 0 || o.In%o.Heads != 0 || o.Out <= 0 {
				return fmt.Errorf("prog: op %d (attention): %d channels in %d heads over %d keys", k, o.In, o.Heads, o.Out)
			}
			kv := o.N / o.L * o.Out * o.In
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"B", buf(o.B), kv}, {"C", buf(o.C), kv}, {"Dst", buf(o.Dst), o.N * o.In}}
		case Embed:
			if len(p.Params) <= o.W || o.W < 0 || len(p.Params[o.W].Shape) != 2 || p.Params[o.W].Shape[1] != o.Out {
				return fmt.Errorf("prog: op %d (embed): table is not [V, %d]", k, o.Out)
			}
			ns = []need{{"A", buf(o.A), o.N}, {"Dst", buf(o.Dst), o.N * o.Out}}
		case MeanRows:
			ns = []need{{"A", buf(o.A), o.N * o.In}, {"Dst", buf(o.Dst), o.N / o.L * o.In}}
		default:
			return fmt.Errorf("prog: op %d: unknown kind %v", k, o.Kind)
		}
		for _, n := range ns {
			if n.got != n.want {
				return bad(n.what, n.got, n.want)
			}
		}
	}
	if buf(p.Out) < 0 || buf(p.X) < 0 {
		return fmt.Errorf("prog: output %d or input %d is not a buffer", p.Out, p.X)
	}
	return nil
}

// LastUse gives, for each buffer, the index of the last operation that
// reads it (len(Ops) for the output, -1 for a buffer nothing reads): a
// backend frees or reuses a buffer's memory after it.
func (p *Program) LastUse() []int {
	last := make([]int, len(p.Sizes))
	for i := range last {
		last[i] = -1
	}
	for k, o := range p.Ops {
		for _, b := range []int{o.A, o.B, o.C} {
			if b >= 0 {
				last[b] = k
			}
		}
	}
	last[p.Out] = len(p.Ops)
	return last
}

// Run executes p on the CPU: bufs holds the input buffers (the others may
// be nil) and receives every buffer the program computes. It is the
// reference for device backends: plain loops, float32 values with
// float64 sums for the norms.
func (p *Program) Run(bufs [][]float32) error {
	if len(bufs) != len(p.Sizes) {
		return fmt.Errorf("prog: %d buffers for a program of %d", len(bufs), len(p.Sizes))
	}
	for _, i := range []int{p.X, p.Time, p.Tokens, p.Control} {
		if i != None && len(bufs[i]) != p.Sizes[i] {
			return fmt.Errorf("prog: input buffer %d holds %d values, want %d", i, len(bufs[i]), p.Sizes[i])
		}
	}
	for k, o := range p.Ops {
		dst := make([]float32, p.Sizes[o.Dst])
		get := func(i int) []float32 {
			if i == None {
				return nil
			}
			return bufs[i]
		}
		a, b, c := get(o.A), get(o.B), get(o.C)
		var w, bias []float32
		if o.W != None {
			w = p.Params[o.W].Data
		}
		if o.Bias != None {
			bias = p.Params[o.Bias].Data
		}
		if err := run(o, dst, a, b, c, w, bias); err != nil {
			return fmt.Errorf("prog: op %d (%v): %w", k, o.Kind, err)
		}
		bufs[o.Dst] = dst
	}
	return nil
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

func run(o Op, dst, a, b, c, w, bias []float32) error {
	switch o.Kind {
	case Linear:
		gemm(dst, a, w, bias, o.N, o.In, o.Out)
	case Conv3:
		l, in, out := o.L, o.In, o.Out
		cat := make([]float32, o.N*3*in)
		for r := 0; r < o.N; r++ {
			pos := r % l
			for k := 0; k < 3; k++ {
				q := pos + k - 1
				if q < 0 || q >= l {
					continue
				}
				copy(cat[r*3*in+k*in:r*3*in+(k+1)*in], a[(r+k-1)*in:(r+k)*in])
			}
		}
		gemm(dst, cat, w, bias, o.N, 3*in, out)
	case GroupNorm:
		n, cg := o.N/o.L, o.In/o.Groups
		for s := 0; s < n; s++ {
			for g := 0; g < o.Groups; g++ {
				var sum float64
				for l := 0; l < o.L; l++ {
					for j := 0; j < cg; j++ {
						sum += float64(a[(s*o.L+l)*o.In+g*cg+j])
					}
				}
				cnt := float64(o.L * cg)
				mean := sum / cnt
				var sq float64
				for l := 0; l < o.L; l++ {
					for j := 0; j < cg; j++ {
						d := float64(a[(s*o.L+l)*o.In+g*cg+j]) - mean
						sq += d * d
					}
				}
				std := math.Sqrt(sq/cnt + o.Eps)
				for l := 0; l < o.L; l++ {
					for j := 0; j < cg; j++ {
						i := (s*o.L+l)*o.In + g*cg + j
						v := float32((float64(a[i])-mean)/std)*w[g*cg+j] + bias[g*cg+j]
						if o.Act {
							v *= sigmoid(v)
						}
						dst[i] = v
					}
				}
			}
		}
	case LayerNorm:
		for r := 0; r < o.N; r++ {
			row := a[r*o.In : (r+1)*o.In]
			var sum float64
			for _, v := range row {
				sum += float64(v)
			}
			mean := sum / float64(o.In)
			var sq float64
			for _, v := range row {
				sq += (float64(v) - mean) * (float64(v) - mean)
			}
			std := math.Sqrt(sq/float64(o.In) + o.Eps)
			for j, v := range row {
				dst[r*o.In+j] = float32((float64(v)-mean)/std)*w[j] + bias[j]
			}
		}
	case SiLU:
		for i, v := range a {
			dst[i] = v * sigmoid(v)
		}
	case Add:
		s := float32(o.Scale)
		for i := range dst {
			dst[i] = a[i] + s*b[i]
		}
	case AddRows:
		for r := 0; r < o.N; r++ {
			t := b[r/o.L*o.In : (r/o.L+1)*o.In]
			for j := 0; j < o.In; j++ {
				dst[r*o.In+j] = a[r*o.In+j] + t[j]
			}
		}
	case Concat:
		for r := 0; r < o.N; r++ {
			copy(dst[r*(o.In+o.Out):], a[r*o.In:(r+1)*o.In])
			copy(dst[r*(o.In+o.Out)+o.In:], b[r*o.Out:(r+1)*o.Out])
		}
	case Attention:
		d, t := o.In/o.Heads, o.Out
		sc := make([]float64, t)
		for r := 0; r < o.N; r++ {
			s := r / o.L
			for h := 0; h < o.Heads; h++ {
				q := a[r*o.In+h*d : r*o.In+(h+1)*d]
				mx := math.Inf(-1)
				for u := 0; u < t; u++ {
					k := b[(s*t+u)*o.In+h*d : (s*t+u)*o.In+(h+1)*d]
					var dot float32
					for j := range q {
						dot += q[j] * k[j]
					}
					sc[u] = float64(dot) * o.Scale
					mx = math.Max(mx, sc[u])
				}
				var z float64
				for u := range sc {
					sc[u] = math.Exp(sc[u] - mx)
					z += sc[u]
				}
				for j := 0; j < d; j++ {
					var acc float64
					for u := 0; u < t; u++ {
						acc += sc[u] / z * float64(c[(s*t+u)*o.In+h*d+j])
					}
					dst[r*o.In+h*d+j] = float32(acc)
				}
			}
		}
	case Embed:
		v := len(w) / o.Out
		for r := 0; r < o.N; r++ {
			id := int(a[r])
			if id < 0 || id >= v || float32(id) != a[r] {
				return fmt.Errorf("token id %v outside the table of %d", a[r], v)
			}
			copy(dst[r*o.Out:(r+1)*o.Out], w[id*o.Out:(id+1)*o.Out])
		}
	case MeanRows:
		n := o.N / o.L
		for s := 0; s < n; s++ {
			for j := 0; j < o.In; j++ {
				var sum float64
				for l := 0; l < o.L; l++ {
					sum += float64(a[(s*o.L+l)*o.In+j])
				}
				dst[s*o.In+j] = float32(sum / float64(o.L))
			}
		}
	default:
		return fmt.Errorf("unknown kind")
	}
	return nil
}

// gemm: dst[n, out] = a[n, in]·w[in, out] + bias.
func gemm(dst, a, w, bias []float32, n, in, out int) {
	for r := 0; r < n; r++ {
		d := dst[r*out : (r+1)*out]
		if bias != nil {
			copy(d, bias)
		}
		for k, x := range a[r*in : (r+1)*in] {
			if x == 0 {
				continue
			}
			wr := w[k*out : (k+1)*out]
			for j := range d {
				d[j] += x * wr[j]
			}
		}
	}
}
