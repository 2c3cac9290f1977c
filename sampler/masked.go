package sampler

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// MaskRate is the share of cells masked at timestep t of a T-step Mask
// process: sin(π/2 · (t+1)/T), 1 at t = T-1 (everything masked) and close
// to 0 at t = 0. As MaskGIT's cosine schedule, sampling unmasks few cells
// in the first steps, when the model knows least, and more at the end.
func MaskRate(t, T int) float64 {
	return math.Sin(math.Pi / 2 * float64(t+1) / float64(T))
}

// maskCells masks the cells of x0 whose first-plane noise falls below the
// normal quantile of MaskRate(t): each cell is masked with probability
// MaskRate(t), decided by the caller's noise draw.
func maskCells(x0, noise []float32, t, T, cols int) ([]float32, error) {
	if len(x0)%(3*cols) != 0 {
		return nil, fmt.Errorf("%w: %d values are not rows of 3x%d (MaskCols)", ErrLength, len(x0), cols)
	}
	// P(noise < q) = rate for noise ~ N(0,1)
	q := math.Sqrt2 * math.Erfinv(2*MaskRate(t, T)-1)
	out := append([]float32(nil), x0...)
	for r := 0; r < len(x0); r += 3 * cols {
		for j := 0; j < cols; j++ {
			if float64(noise[r+j]) < q {
				out[r+j], out[r+cols+j], out[r+2*cols+j] = 0, 0, 0
			}
		}
	}
	return out, nil
}

// Masked samples a Mask process (Config.Process): it starts from every
// cell masked (x_T = 0) and, at each step from t to the next timestep s,
// unmasks the share 1 - MaskRate(s)/MaskRate(t) of the masked cells (all at
// the last step), drawing each one's category from the model's predicted
// x0: plane k of a cell predicts 2p_k - 1 (the mean of a one-hot ±1 target
// under MSE), so p_k ∝ max(out_k+1, 0)^(1/MaskTemperature). Which cells are
// unmasked is Config.MaskOrder: by default those whose draw the model is
// surest of (over the whole batch), so that uncertain cells are drawn last,
// seeing the most context. Known cells never change. A cell whose planes
// are (0, 0, -1) is masked but known not to be of the third category (a
// present bit of a structure map): it is drawn from the first two only;
// give the model such cells as (0, 0, 0), the only mask it was trained on
// (MaskInput). Diversity comes from the draws; coherence from every step
// seeing the cells already drawn.
type Masked struct {
	timesteps
	cfg Config
}

// NewMasked returns the sampler of a Mask process.
func NewMasked(cfg Config) (*Masked, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Process != Mask {
		return nil, fmt.Errorf("sampler: NewMasked: process %q, want %q", cfg.Process, Mask)
	}
	return &Masked{cfg: cfg}, nil
}

// SetTimesteps picks n of the T training timesteps.
func (m *Masked) SetTimesteps(n int) error {
	return m.set(m.cfg, n)
}

// Step unmasks cells of sample as the model's output says (see Masked).
// rng is required.
func (m *Masked) Step(out, x []float32, t int, rng *rand.Rand) (StepOutput, error) {
	i, err := m.checkStep(out, x, t)
	if err != nil {
		return StepOutput{}, err
	}
	if rng == nil {
		return StepOutput{}, ErrNoRand
	}
	w := m.cfg.MaskCols
	if len(x)%(3*w) != 0 {
		return StepOutput{}, fmt.Errorf("%w: %d values are not rows of 3x%d (MaskCols)", ErrLength, len(x), w)
	}
	T := m.cfg.NumTrainTimesteps
	keep := 0.0 // share of the masked cells that stay masked
	if i+1 < len(m.ts) {
		keep = MaskRate(m.ts[i+1], T) / MaskRate(t, T)
	}
	inv := 1.0
	if m.cfg.MaskTemperature > 0 {
		inv = 1 / m.cfg.MaskTemperature
	}
	prev := append([]float32(nil), x...)
	x0 := append([]float32(nil), x...)
	cands := make([]candidate, 0, len(x)/3) // at most one per cell
	for r := 0; r < len(x); r += 3 * w {
		for j := 0; j < w; j++ {
			a := r + j
			if x[a] != 0 || x[a+w] != 0 || x[a+2*w] != 0 && x[a+2*w] != -1 {
				continue // known
			}
			p := cellProbs(out[a], out[a+w], out[a+2*w], inv)
			if x[a+2*w] == -1 { // masked but known present: not the third category
				p = present(p)
			}
			setCell(x0, a, w, argmax3(p))
			k := draw(p, rng)
			cands = append(cands, candidate{at: a, k: k, conf: math.Log(max(p[k], 1e-12))})
		}
	}
	n := len(cands) - int(math.Round(keep*float64(len(cands)))) // cells to unmask now
	switch {
	case m.cfg.MaskOrder == MaskRandom:
		rng.Shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
	case n < len(cands):
		// MaskGIT: the surest first, with Gumbel noise annealed to 0 at the end
		g := keep
		if m.cfg.MaskChoiceNoise > 0 {
			g *= m.cfg.MaskChoiceNoise
		}
		for c := range cands {
			cands[c].conf += g * -math.Log(-math.Log(max(rng.Float64(), 1e-300)))
		}
		slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(b.conf, a.conf) })
	}
	for _, c := range cands[:n] {
		setCell(prev, c.at, w, c.k)
	}
	return StepOutput{Prev: prev, PredX0: x0}, nil
}

// candidate is a masked cell at its first plane, the category drawn for it
// and the log-probability of that draw.
type candidate struct {
	at, k int
	conf  float64
}

// cellProbs are the (unnormalised) category probabilities a model's three
// planes predict: max(out+1, 0)^inv; NaN counts as 0.
func cellProbs(r, g, b float32, inv float64) [3]float64 {
	var p [3]float64
	sum := 0.0
	for k, v := range [3]float32{r, g, b} {
		if v := float64(v) + 1; v > 0 {
			p[k] = math.Pow(v, inv)
		}
		sum += p[k]
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return [3]float64{1, 1, 1}
	}
	for k := range p {
		p[k] /= sum
	}
	return p
}

// present is p without its third category (vacant), renormalised.
func present(p [3]float64) [3]float64 {
	s := p[0] + p[1]
	if !(s > 0) {
		return [3]float64{0.5, 0.5, 0}
	}
	return [3]float64{p[0] / s, p[1] / s, 0}
}

func argmax3(p [3]float64) int {
	best := 0
	for k := 1; k < 3; k++ {
		if p[k] > p[best] {
			best = k
		}
	}
	return best
}

// draw picks a category from normalised probabilities p.
func draw(p [3]float64, rng *rand.Rand) int {
	u := rng.Float64()
	for k := 0; k < 2; k++ {
		if u < p[k] {
			return k
		}
		u -= p[k]
	}
	return 2
}

// setCell makes the cell at a (first plane) of a row of planes w wide
// category k: +1 on plane k, -1 on the others.
func setCell(x []float32, a, w, k int) {
	for q := 0; q < 3; q++ {
		x[a+q*w] = -1
	}
	x[a+k*w] = 1
}

// AddNoise masks cells of x0 for training (see Config.Process); noise
// decides which (its first plane per cell).
func (m *Masked) AddNoise(x0, noise []float32, t int) ([]float32, error) {
	return m.schedule().AddNoise(x0, noise, t)
}

// Velocity has no meaning for a Mask process.
func (m *Masked) Velocity(x0, noise []float32, t int) ([]float32, error) {
	return nil, fmt.Errorf("sampler: a %q process has no velocity", Mask)
}

// Target is x0: the model predicts the cells' categories.
func (m *Masked) Target(x0, noise []float32, t int) ([]float32, error) {
	return m.schedule().Target(x0, noise, t)
}

// InitNoiseSigma is 0: sampling starts from every cell masked.
func (m *Masked) InitNoiseSigma() float64 { return 0 }

// Config returns the configuration.
func (m *Masked) Config() Config { return m.cfg }

func (m *Masked) schedule() *Schedule { return &Schedule{cfg: m.cfg} }

// MaskInput rewrites, in place, the cells of x that are masked but known
// present (planes 0, 0, -1) as plain masked cells (0, 0, 0): the model's
// view of a sample whose structure is constrained. cols is MaskCols.
func MaskInput(x []float32, cols int) {
	for r := 0; r+3*cols <= len(x); r += 3 * cols {
		for j := 0; j < cols; j++ {
			if a := r + j; x[a] == 0 && x[a+cols] == 0 && x[a+2*cols] == -1 {
				x[a+2*cols] = 0
			}
		}
	}
}
