package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"

	"t2t"
	"t2t/internal/safetensors"
	"t2t/sampler"
	"t2t/unet"
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

// Example is one training sample: a flow image and the prompts it may be
// trained with (each MaxTokens ids; one is drawn per use). The image is
// Matrix, the flow's ternary cells (one byte each), which the Trainer lays
// out as the model's input when it draws the example
// (t2t.Matrix.AppendRowPlanes over the model's Rows: a flow of 32 packets
// is 35 kB instead of 418 kB of float planes), or, when Matrix is nil, X,
// the input itself (Config.InputSize values in [-1,1]).
type Example struct {
	Matrix  *t2t.Matrix
	X       []float32
	Prompts [][]int
	// Control is the example's control image, for training a Controlled
	// predictor (Rows·ControlCols values); nil otherwise.
	Control []float32
	// Transport is the flow's transport protocol word ("tcp", "udp",
	// "icmp"; "" if unknown), set by DatasetExamples; AddTransportPrompts
	// uses it.
	Transport string
	// Offset is the row of the flow the example starts at: 0 for a
	// flow's first window, above 0 for a continuation window (Windows).
	Offset int
	// Known is how many rows at the top of a continuation window the
	// model is given unmasked when it learns with the Mask process: the
	// rows the previous window generated, as when a flow is continued
	// past the model's window (pipeline). Ignored by the Gaussian process.
	Known int
}

// Input returns the example in the model's input layout over rows rows:
// X, or Matrix appended to dst[:0] (see Example).
func (e *Example) Input(dst []float32, rows int) []float32 {
	if e.Matrix == nil {
		return e.X
	}
	return e.Matrix.AppendRowPlanes(dst[:0], rows)
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
	input  []float32 // the example being drawn, in the model's layout
	// starts and conts index the first and the continuation windows of
	// Data (draw)
	starts, conts []int
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
		switch {
		case e.Matrix != nil && (e.Matrix.Cols != c.Cols || len(e.Matrix.Bits) != e.Matrix.Rows*e.Matrix.Cols):
			return nil, fmt.Errorf("train: example %d is a matrix of %d columns, model wants %d", i, e.Matrix.Cols, c.Cols)
		case e.Matrix == nil && len(e.X) != c.InputSize():
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

// ContinueShare is the share of training draws that are continuation
// windows (Example.Offset > 0) when the data holds both kinds: a flow's
// first window, the one most flows have only, keeps half the draws
// however many continuation windows long flows bring.
const ContinueShare = 0.5

// draw picks the next example: uniformly among the first windows or,
// ContinueShare of the time, among the continuation windows.
func (t *Trainer) draw() *Example {
	if t.starts == nil {
		for i := range t.Data {
			if t.Data[i].Offset > 0 {
				t.conts = append(t.conts, i)
			} else {
				t.starts = append(t.starts, i)
			}
		}
	}
	pool := t.starts
	if len(t.conts) > 0 && (len(pool) == 0 || t.rng.Float64() < ContinueShare) {
		pool = t.conts
	}
	return &t.Data[pool[t.rng.IntN(len(pool))]]
}

// batch draws the next batch: examples, timesteps, noise, prompts.
func (t *Trainer) batch(x, target, ctl []float32, ts, tokens []int) error {
	c := t.Pred.Base().Config
	n := c.InputSize()
	cn := len(ctl) / t.Config.Batch
	T := t.Config.Noise.NumTrainTimesteps
	noise := make([]float32, n)
	for b := 0; b < t.Config.Batch; b++ {
		e := t.draw()
		copy(ctl[b*cn:(b+1)*cn], e.Control)
		ts[b] = t.rng.IntN(T)
		for i := range noise {
			noise[i] = float32(t.rng.NormFloat64())
		}
		t.input = e.Input(t.input, c.Rows)
		xt, err := t.sched.AddNoise(t.input, noise, ts[b])
		if err != nil {
			return err
		}
		if e.Known > 0 && t.Config.Noise.Process == sampler.Mask {
			k := min(e.Known, c.Rows) * 3 * c.Cols
			copy(xt[:k], t.input[:k]) // the rows the previous window gave
		}
		copy(x[b*n:], xt)
		tg, err := t.sched.Target(t.input, noise, ts[b])
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

// The checkpoint of a training run is one file, Dir/state/checkpoint.safetensors:
// the trained weights, AdamW's moments and the EMA weights as tensors named
// "<group>/<parameter>", and in its metadata the format and the state (step,
// random state, losses, the training config and the model's config). It is
// written to a temporary file, synced, renamed over the previous one and
// the folder synced, so that at every moment the folder holds either the
// previous checkpoint or the new one, whole.
const (
	stateDir       = "state"
	checkpointFile = "checkpoint.safetensors"
	checkpointTmp  = checkpointFile + ".tmp" // what safetensors.Save writes first
	stateFormat    = "t2t-train-state/1"
	metaState      = "state"
)

// checkpoint groups: the tensors of each are named "<group>/<parameter>".
var groups = []string{"weights", "adam_m", "adam_v", "ema"}

type trainState struct {
	Step   int         `json:"step"`
	RNG    []byte      `json:"rng"`
	Losses []float64   `json:"losses"`
	Config Config      `json:"config"`
	Model  unet.Config `json:"model"` // the config of the predictor's base model
}

// Save writes a checkpoint to Dir/state: the trained weights, AdamW's
// moments, the EMA weights, the step, the random state, the losses, the
// training config and the model's config (Resume refuses a checkpoint made
// for another model). The previous checkpoint is replaced in one rename
// once the new one is complete and synced: a crash at any moment leaves one
// whole checkpoint, the previous or the new.
func (t *Trainer) Save() error {
	if t.Dir == "" {
		return errors.New("train: no checkpoint directory")
	}
	dir := filepath.Join(t.Dir, stateDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var ts []unet.Tensor
	for i, p := range t.params {
		s := p.Shape()
		data := [][]float32{p.Float32s(), t.m[i], t.v[i], nil}
		if t.ema != nil {
			data[3] = t.ema[i]
		}
		for k, g := range groups {
			if data[k] != nil {
				ts = append(ts, unet.Tensor{Name: g + "/" + p.Name, Shape: s, Data: data[k]})
			}
		}
	}
	rs, err := t.src.MarshalBinary()
	if err != nil {
		return err
	}
	b, err := json.Marshal(trainState{Step: t.Step, RNG: rs, Losses: t.Losses, Config: t.Config, Model: t.Pred.Base().Config})
	if err != nil {
		return err
	}
	meta := map[string]string{unet.FormatKey: stateFormat, metaState: string(b)}
	if err := safetensors.Save(filepath.Join(dir, checkpointFile), ts, meta); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("train: syncing %s: %w", dir, err)
	}
	return nil
}

// checkpoint is a checkpoint read and checked, not yet applied.
type checkpoint struct {
	state  trainState
	src    *rand.PCG
	tensor map[string][]float32 // by "<group>/<parameter>"
}

// findCheckpoint returns the path of the checkpoint in dir/state, "" when
// the run has none yet (no state folder, an empty one, or one holding only
// the temporary file of an interrupted first Save). A state folder holding
// anything else but no checkpoint is an error: restarting from step 0
// would throw away a run.
func findCheckpoint(dir string) (string, error) {
	sd := filepath.Join(dir, stateDir)
	entries, err := os.ReadDir(sd)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var other []string
	for _, e := range entries {
		switch e.Name() {
		case checkpointFile:
			return filepath.Join(sd, checkpointFile), nil
		case checkpointTmp:
		default:
			other = append(other, e.Name())
		}
	}
	if len(other) > 0 {
		return "", fmt.Errorf("train: %s holds no checkpoint (%s) but %s: not a checkpoint folder of this version; move it away to start afresh", sd, checkpointFile, strings.Join(other, ", "))
	}
	return "", nil
}

// readCheckpoint reads and checks the checkpoint in r (name in errors)
// for a run whose trained parameters have the shapes want, whose model has
// the config model and which keeps EMA weights when ema.
func readCheckpoint(r io.Reader, name string, want []unet.Tensor, model unet.Config, ema bool) (*checkpoint, error) {
	ts, meta, err := safetensors.Read(r, name)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("train: checkpoint %s: %s", name, fmt.Sprintf(format, args...))
	}
	if f := meta[unet.FormatKey]; f != stateFormat {
		return nil, bad("format %q, want %q", f, stateFormat)
	}
	c := &checkpoint{src: &rand.PCG{}, tensor: make(map[string][]float32, len(ts))}
	dec := json.NewDecoder(strings.NewReader(meta[metaState]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.state); err != nil {
		return nil, bad("state: %v", err)
	}
	st := &c.state
	if st.Step < 0 || len(st.Losses) != st.Step {
		return nil, bad("step %d with %d losses", st.Step, len(st.Losses))
	}
	if err := c.src.UnmarshalBinary(st.RNG); err != nil {
		return nil, bad("random state: %v", err)
	}
	if d := configDiff(st.Model, model); d != "" {
		return nil, bad("made for another model: %s", d)
	}
	var all []unet.Tensor
	for _, g := range groups {
		if g == "ema" && !ema {
			continue
		}
		for _, w := range want {
			all = append(all, unet.Tensor{Name: g + "/" + w.Name, Shape: w.Shape})
		}
	}
	if err := unet.CheckTensors(ts, all); err != nil {
		return nil, bad("%v", err)
	}
	for _, x := range ts {
		c.tensor[x.Name] = x.Data
	}
	return c, nil
}

// configDiff lists the fields of the JSON of two model configs that
// differ ("rows 4, this model 8"); "" when they are the same.
func configDiff(ckpt, model unet.Config) string {
	fields := func(c unet.Config) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		b, _ := json.Marshal(c)
		json.Unmarshal(b, &m)
		return m
	}
	a, b := fields(ckpt), fields(model)
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if !bytes.Equal(a[k], b[k]) {
			diffs = append(diffs, fmt.Sprintf("%s %s, this model %s", k, a[k], b[k]))
		}
	}
	return strings.Join(diffs, "; ")
}

// Resume loads the checkpoint in Dir/state, if there is one, and reports
// whether it did. The checkpoint must have been made for this model (the
// same config) and these trained parameters (names and shapes); its step
// may not exceed Config.Steps (raise Steps to train longer). A state folder
// that holds no valid checkpoint is an error, not a fresh start. On an
// error the trainer is left as it was.
func (t *Trainer) Resume() (bool, error) {
	path, err := findCheckpoint(t.Dir)
	if err != nil || path == "" {
		return false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	c, err := readCheckpoint(bufio.NewReaderSize(f, 1<<16), path, unet.ParamShapes(t.params), t.Pred.Base().Config, t.ema != nil)
	if err != nil {
		return false, err
	}
	if c.state.Step > t.Config.Steps {
		return false, fmt.Errorf("train: checkpoint at step %d is past the %d steps asked", c.state.Step, t.Config.Steps)
	}
	for i, p := range t.params {
		copy(p.Float32s(), c.tensor["weights/"+p.Name])
		copy(t.m[i], c.tensor["adam_m/"+p.Name])
		copy(t.v[i], c.tensor["adam_v/"+p.Name])
		if t.ema != nil {
			copy(t.ema[i], c.tensor["ema/"+p.Name])
		}
	}
	*t.src = *c.src
	t.Step, t.Losses = c.state.Step, c.state.Losses
	return true, nil
}

// CheckpointConfig returns the model config of the checkpoint of the
// training run in dir (Dir of its Trainer), reading only the checkpoint's
// header; ok is false when the run has no checkpoint yet. A command that
// resumes a run builds its model from it, so that the checkpoint fits.
func CheckpointConfig(dir string) (cfg unet.Config, ok bool, err error) {
	path, err := findCheckpoint(dir)
	if err != nil || path == "" {
		return cfg, false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return cfg, false, err
	}
	defer f.Close()
	_, meta, err := safetensors.ReadHeader(bufio.NewReader(f), path)
	if err != nil {
		return cfg, false, err
	}
	var st trainState
	if meta[unet.FormatKey] != stateFormat || json.Unmarshal([]byte(meta[metaState]), &st) != nil {
		return cfg, false, fmt.Errorf("train: checkpoint %s: no state of format %q", path, stateFormat)
	}
	if err := st.Model.Validate(); err != nil {
		return cfg, false, fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	return st.Model, true, nil
}
