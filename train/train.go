package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"t2t/internal/safetensors"
	"t2t/unet"
	"time"

	G "gorgonia.org/gorgonia"

	"t2t/sampler"
)

// Config drives the training loop. It round-trips through JSON and is
// saved with every checkpoint.
type Config struct {
	Steps  int     `json:"steps"`
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"`
	Warmup int     `json:"warmup"` // linear warm-up steps
	// Decay is "constant" or "cosine" (to 10% of LR at the last step).
	Decay       string  `json:"decay"`
	WeightDecay float64 `json:"weight_decay"` // AdamW's decoupled decay
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	ClipNorm    float64 `json:"clip_norm"` // global gradient norm limit; 0: none
	EMADecay    float64 `json:"ema_decay"` // 0: no EMA
	// PromptDropout is the probability of training on the null prompt
	// instead of the example's, so that classifier-free guidance works.
	PromptDropout   float64        `json:"prompt_dropout"`
	Seed            uint64         `json:"seed"`
	CheckpointEvery int            `json:"checkpoint_every"` // steps; 0: only at the end
	Noise           sampler.Config `json:"noise"`
}

// DefaultConfig returns settings that train the Small model. The
// model predicts the clean sample x0 ("sample" prediction): the row patch
// embedding squeezes a row of 3x1088 values into a few hundred channels,
// through which the i.i.d. noise of epsilon prediction cannot pass (its
// loss stays near 1), while the structured clean rows can.
func DefaultConfig() Config {
	noise := sampler.DefaultConfig()
	noise.Prediction = sampler.SamplePrediction
	return Config{Steps: 2000, Batch: 8, LR: 1e-3, Warmup: 100, Decay: "cosine", WeightDecay: 0.01,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1, EMADecay: 0.995, PromptDropout: 0.1,
		Seed: 1, CheckpointEvery: 200, Noise: noise}
}

// Validate says what is wrong with a training config.
func (c Config) Validate() error {
	switch {
	case c.Steps < 1:
		return fmt.Errorf("train: steps %d, want at least 1", c.Steps)
	case c.Batch < 1:
		return fmt.Errorf("train: batch %d, want at least 1", c.Batch)
	case !(c.LR > 0):
		return fmt.Errorf("train: lr %g, want > 0", c.LR)
	case c.Decay != "constant" && c.Decay != "cosine":
		return fmt.Errorf("train: decay %q, want constant or cosine", c.Decay)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("train: betas %g, %g outside [0,1)", c.Beta1, c.Beta2)
	case c.EMADecay < 0 || c.EMADecay >= 1:
		return fmt.Errorf("train: ema_decay %g outside [0,1)", c.EMADecay)
	case c.PromptDropout < 0 || c.PromptDropout > 1:
		return fmt.Errorf("train: prompt_dropout %g outside [0,1]", c.PromptDropout)
	}
	return c.Noise.Validate()
}

// Example is one training sample: a flow image in the model's input layout
// (Config.InputSize values in [-1,1], see t2t.Matrix.AppendRowPlanes) and the prompts it may be
// trained with (each MaxTokens ids; one is drawn per use).
type Example struct {
	X       []float32
	Prompts [][]int
	// Control is the example's control image, for training a Controlled
	// predictor (Rows·ControlCols values); nil otherwise.
	Control []float32
	// Transport is the flow's transport protocol word ("tcp", "udp",
	// "icmp"; "" if unknown), set by DatasetExamples; AddTransportPrompts
	// uses it.
	Transport string
}

// Progress is reported after every step.
type Progress struct {
	Step, Steps int
	Loss        float64 // this step's loss
	AvgLoss     float64 // mean over the last 50 steps
	LR          float64
	GradNorm    float64
	StepTime    time.Duration // mean over the steps of this run
	Elapsed     time.Duration
}

// ErrNonFinite is returned when a loss or a gradient is NaN or infinite;
// the weights are left as they were before that step and no checkpoint is
// written.
var ErrNonFinite = errors.New("train: loss or gradient is not finite")

// Trainer trains the parameters of a Predictor that are not frozen, with
// AdamW, warm-up, gradient clipping and EMA weights; it saves and resumes
// checkpoints. The same seed and data give the same weights.
type Trainer struct {
	Config Config
	Pred   unet.Predictor
	Data   []Example
	// Dir, when set, receives checkpoints (Dir/state) and Resume reads
	// them.
	Dir string

	Step   int
	Losses []float64 // loss of every step so far

	sched  *sampler.Schedule
	src    *rand.PCG
	rng    *rand.Rand
	net    *unet.Net
	params []*unet.Param // trained, in graph order
	nodes  []*G.Node     // their nodes
	m, v   [][]float32
	ema    [][]float32
}

// NewTrainer prepares a trainer; it compiles the training graph.
func NewTrainer(p unet.Predictor, cfg Config, data []Example) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, errors.New("train: no examples")
	}
	c := p.Base().Config
	for i, e := range data {
		if len(e.X) != c.InputSize() {
			return nil, fmt.Errorf("train: example %d has %d values, model wants %d", i, len(e.X), c.InputSize())
		}
		if len(e.Prompts) == 0 {
			return nil, fmt.Errorf("train: example %d has no prompt", i)
		}
		for _, pr := range e.Prompts {
			if len(pr) != c.MaxTokens {
				return nil, fmt.Errorf("train: example %d: prompt of %d tokens, model wants %d", i, len(pr), c.MaxTokens)
			}
		}
		if cp, ok := p.(unet.Controlled); ok && len(e.Control) != c.Rows*cp.ControlCols() {
			return nil, fmt.Errorf("train: example %d has a control image of %d values, the predictor wants %d", i, len(e.Control), c.Rows*cp.ControlCols())
		}
	}
	sched, err := sampler.NewSchedule(cfg.Noise)
	if err != nil {
		return nil, err
	}
	net, err := unet.Compile(p, cfg.Batch, true)
	if err != nil {
		return nil, err
	}
	t := &Trainer{Config: cfg, Pred: p, Data: data, sched: sched, net: net}
	t.src = rand.NewPCG(cfg.Seed, 0x747261696e)
	t.rng = rand.New(t.src)
	ps, nodes := net.Graph.Bound()
	for i, q := range ps {
		if q.Frozen {
			continue
		}
		if q.Float32s() == nil {
			return nil, fmt.Errorf("train: parameter %s is not float32", q.Name)
		}
		t.params = append(t.params, q)
		t.nodes = append(t.nodes, nodes[i])
		n := len(q.Float32s())
		t.m = append(t.m, make([]float32, n))
		t.v = append(t.v, make([]float32, n))
		if cfg.EMADecay > 0 {
			t.ema = append(t.ema, append([]float32(nil), q.Float32s()...))
		}
	}
	return t, nil
}

// Close releases the compiled graph.
func (t *Trainer) Close() { t.net.Close() }

// Trained returns the parameters being trained.
func (t *Trainer) Trained() []*unet.Param { return t.params }

func (t *Trainer) lr(step int) float64 {
	c := t.Config
	lr := c.LR
	if c.Decay == "cosine" {
		f := float64(step) / float64(max(c.Steps, 1))
		lr = c.LR * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*min(f, 1))))
	}
	if c.Warmup > 0 && step < c.Warmup {
		lr *= float64(step+1) / float64(c.Warmup)
	}
	return lr
}

// batch draws the next batch: examples, timesteps, noise, prompts.
func (t *Trainer) batch(x, target, ctl []float32, ts, tokens []int) error {
	c := t.Pred.Base().Config
	n := c.InputSize()
	cn := len(ctl) / t.Config.Batch
	T := t.Config.Noise.NumTrainTimesteps
	noise := make([]float32, n)
	for b := 0; b < t.Config.Batch; b++ {
		e := t.Data[t.rng.IntN(len(t.Data))]
		copy(ctl[b*cn:(b+1)*cn], e.Control)
		ts[b] = t.rng.IntN(T)
		for i := range noise {
			noise[i] = float32(t.rng.NormFloat64())
		}
		xt, err := t.sched.AddNoise(e.X, noise, ts[b])
		if err != nil {
			return err
		}
		copy(x[b*n:], xt)
		tg, err := t.sched.Target(e.X, noise, ts[b])
		if err != nil {
			return err
		}
		copy(target[b*n:], tg)
		pr := e.Prompts[t.rng.IntN(len(e.Prompts))]
		if t.rng.Float64() < t.Config.PromptDropout {
			pr = unet.NullPrompt(c.MaxTokens)
		}
		copy(tokens[b*c.MaxTokens:], pr)
	}
	return nil
}

// Run trains until Config.Steps or until ctx is cancelled (then it saves a
// checkpoint, when Dir is set, and returns ctx.Err()). progress, when not
// nil, is called after every step.
func (t *Trainer) Run(ctx context.Context, progress func(Progress)) error {
	c := t.Pred.Base().Config
	B := t.Config.Batch
	x := make([]float32, B*c.InputSize())
	target := make([]float32, len(x))
	ts := make([]int, B)
	tokens := make([]int, B*c.MaxTokens)
	var ctl []float32
	if cp, ok := t.Pred.(unet.Controlled); ok {
		ctl = make([]float32, B*c.Rows*cp.ControlCols())
	}
	start := time.Now()
	first := t.Step
	for t.Step < t.Config.Steps {
		if err := ctx.Err(); err != nil {
			if t.Dir != "" {
				if serr := t.Save(); serr != nil {
					return serr
				}
			}
			return err
		}
		if err := t.batch(x, target, ctl, ts, tokens); err != nil {
			return err
		}
		if err := t.net.SetInputs(x, ts, tokens); err != nil {
			return err
		}
		if ctl != nil {
			if err := t.net.SetControl(ctl); err != nil {
				return err
			}
		}
		if err := t.net.SetTarget(target); err != nil {
			return err
		}
		if err := t.net.Run(); err != nil {
			return fmt.Errorf("train: step %d: %w", t.Step, err)
		}
		loss := t.net.LossValue()
		norm, err := t.update(loss)
		if err != nil {
			return err
		}
		t.Losses = append(t.Losses, loss)
		t.Step++
		if progress != nil {
			k := max(0, len(t.Losses)-50)
			avg := 0.0
			for _, l := range t.Losses[k:] {
				avg += l
			}
			el := time.Since(start)
			progress(Progress{Step: t.Step, Steps: t.Config.Steps, Loss: loss, AvgLoss: avg / float64(len(t.Losses)-k),
				LR: t.lr(t.Step - 1), GradNorm: norm, StepTime: el / time.Duration(t.Step-first), Elapsed: el})
		}
		if t.Dir != "" && t.Config.CheckpointEvery > 0 && t.Step%t.Config.CheckpointEvery == 0 && t.Step < t.Config.Steps {
			if err := t.Save(); err != nil {
				return err
			}
		}
	}
	if t.Dir != "" {
		return t.Save()
	}
	return nil
}

// update applies one AdamW step from the gradients of the last run. It
// checks every gradient first, so a non-finite value changes nothing.
func (t *Trainer) update(loss float64) (float64, error) {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("%w: loss %g at step %d", ErrNonFinite, loss, t.Step)
	}
	grads := make([][]float32, len(t.nodes))
	var sq float64
	for i, n := range t.nodes {
		gv, err := n.Grad()
		if err != nil {
			return 0, fmt.Errorf("train: no gradient for %s: %w", t.params[i].Name, err)
		}
		g := gv.Data().([]float32)
		for _, v := range g {
			sq += float64(v) * float64(v)
		}
		grads[i] = g
	}
	norm := math.Sqrt(sq)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, fmt.Errorf("%w: gradient norm %g at step %d", ErrNonFinite, norm, t.Step)
	}
	scale := 1.0
	if t.Config.ClipNorm > 0 && norm > t.Config.ClipNorm {
		scale = t.Config.ClipNorm / norm
	}
	c := t.Config
	step := float64(t.Step + 1)
	lr := t.lr(t.Step)
	bc1 := 1 - math.Pow(c.Beta1, step)
	bc2 := 1 - math.Pow(c.Beta2, step)
	b1, b2 := float32(c.Beta1), float32(c.Beta2)
	for i, p := range t.params {
		w := p.Float32s()
		m, v, g := t.m[i], t.v[i], grads[i]
		decay := 1 - lr*c.WeightDecay
		if len(p.Value.Shape()) < 2 { // no decay on biases and norm scales
			decay = 1
		}
		for k := range w {
			gk := float32(float64(g[k]) * scale)
			m[k] = b1*m[k] + (1-b1)*gk
			v[k] = b2*v[k] + (1-b2)*gk*gk
			mh := float64(m[k]) / bc1
			vh := float64(v[k]) / bc2
			w[k] = float32(float64(w[k])*decay - lr*mh/(math.Sqrt(vh)+c.Eps))
			g[k] = 0 // gorgonia accumulates gradients across runs
		}
		if t.ema != nil {
			d := float32(min(c.EMADecay, (1+step)/(10+step)))
			e := t.ema[i]
			for k := range e {
				e[k] = d*e[k] + (1-d)*w[k]
			}
		}
	}
	return norm, nil
}

// EMA returns the EMA weights of the trained parameters (the trained
// weights when EMA is off), by parameter name.
func (t *Trainer) EMA() map[string][]float32 {
	out := map[string][]float32{}
	for i, p := range t.params {
		if t.ema != nil {
			out[p.Name] = t.ema[i]
		} else {
			out[p.Name] = p.Float32s()
		}
	}
	return out
}

// UseEMA copies the EMA weights (EMA) into the trained parameters, for
// saving a trained part (an adapter, a ControlNet) from its parameters.
func (t *Trainer) UseEMA() {
	for i, p := range t.params {
		if t.ema != nil {
			copy(p.Float32s(), t.ema[i])
		}
	}
}

type trainState struct {
	Step   int       `json:"step"`
	RNG    []byte    `json:"rng"`
	Losses []float64 `json:"losses"`
	Config Config    `json:"config"`
}

// Save writes a checkpoint to Dir/state: the trained weights, AdamW's
// moments, the EMA weights, the step, the random state and the losses. The
// previous checkpoint is replaced only once the new one is complete.
func (t *Trainer) Save() error {
	if t.Dir == "" {
		return errors.New("train: no checkpoint directory")
	}
	tmp := filepath.Join(t.Dir, "state.new")
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	var w, m, v, e []unet.Tensor
	for i, p := range t.params {
		s := p.Shape()
		w = append(w, unet.Tensor{Name: p.Name, Shape: s, Data: p.Float32s()})
		m = append(m, unet.Tensor{Name: p.Name, Shape: s, Data: t.m[i]})
		v = append(v, unet.Tensor{Name: p.Name, Shape: s, Data: t.v[i]})
		if t.ema != nil {
			e = append(e, unet.Tensor{Name: p.Name, Shape: s, Data: t.ema[i]})
		}
	}
	for _, f := range []struct {
		name string
		ts   []unet.Tensor
	}{{"weights", w}, {"adam_m", m}, {"adam_v", v}, {"ema", e}} {
		if f.ts == nil {
			continue
		}
		if err := safetensors.Save(filepath.Join(tmp, f.name+".safetensors"), f.ts, nil); err != nil {
			return err
		}
	}
	rs, err := t.src.MarshalBinary()
	if err != nil {
		return err
	}
	b, err := json.Marshal(trainState{Step: t.Step, RNG: rs, Losses: t.Losses, Config: t.Config})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "state.json"), b, 0o644); err != nil {
		return err
	}
	cur := filepath.Join(t.Dir, "state")
	old := filepath.Join(t.Dir, "state.old")
	os.RemoveAll(old)
	if _, err := os.Stat(cur); err == nil {
		if err := os.Rename(cur, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, cur); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// Resume loads the checkpoint in Dir/state, if there is one, and reports
// whether it did. Shapes and names must match the trained parameters; the
// step count may not exceed Config.Steps (raise Steps to train longer).
func (t *Trainer) Resume() (bool, error) {
	dir := filepath.Join(t.Dir, "state")
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var st trainState
	if err := json.Unmarshal(b, &st); err != nil {
		return false, fmt.Errorf("train: %s: %w", filepath.Join(dir, "state.json"), err)
	}
	if st.Step > t.Config.Steps {
		return false, fmt.Errorf("train: checkpoint at step %d is past the %d steps asked", st.Step, t.Config.Steps)
	}
	want := make([]unet.Tensor, len(t.params))
	for i, p := range t.params {
		want[i] = unet.Tensor{Name: p.Name, Shape: p.Shape(), Data: p.Float32s()}
	}
	load := func(name string, dst [][]float32) error {
		ts, _, err := safetensors.Load(filepath.Join(dir, name+".safetensors"))
		if err != nil {
			return err
		}
		if err := unet.CheckTensors(ts, want); err != nil {
			return fmt.Errorf("train: %s: %w", filepath.Join(dir, name+".safetensors"), err)
		}
		byName := map[string][]float32{}
		for _, x := range ts {
			byName[x.Name] = x.Data
		}
		for i, p := range t.params {
			copy(dst[i], byName[p.Name])
		}
		return nil
	}
	ws := make([][]float32, len(t.params))
	for i, p := range t.params {
		ws[i] = p.Float32s()
	}
	if err := load("weights", ws); err != nil {
		return false, err
	}
	if err := load("adam_m", t.m); err != nil {
		return false, err
	}
	if err := load("adam_v", t.v); err != nil {
		return false, err
	}
	if t.ema != nil {
		if err := load("ema", t.ema); err != nil {
			return false, err
		}
	}
	if err := t.src.UnmarshalBinary(st.RNG); err != nil {
		return false, err
	}
	t.Step, t.Losses = st.Step, st.Losses
	return true, nil
}
