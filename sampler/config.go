package sampler

import (
	"fmt"
	"math"
)

// Beta schedules accepted in Config.BetaSchedule.
const (
	// Linear spaces beta_t evenly from BetaStart to BetaEnd (Ho et al. 2020:
	// 1e-4 to 0.02 over 1000 steps).
	Linear = "linear"
	// ScaledLinear spaces sqrt(beta_t) evenly and squares it, as Stable
	// Diffusion does (0.00085 to 0.012).
	ScaledLinear = "scaled_linear"
	// SquaredCosCapV2 is the cosine schedule of Nichol & Dhariwal (2021):
	// alpha_bar(t) = cos²((t/T+s)/(1+s)·π/2), s = 0.008, beta capped at 0.999.
	// BetaStart and BetaEnd are ignored.
	SquaredCosCapV2 = "squaredcos_cap_v2"
	// Cosine is an alias of SquaredCosCapV2.
	Cosine = "cosine"
)

// Model output parameterisations accepted in Config.Prediction.
const (
	// Epsilon: the model predicts the noise eps in x_t = sqrt(ab_t)·x0 + sqrt(1-ab_t)·eps.
	Epsilon = "epsilon"
	// VPrediction: the model predicts v = sqrt(ab_t)·eps - sqrt(1-ab_t)·x0
	// (Salimans & Ho 2022).
	VPrediction = "v_prediction"
	// SamplePrediction: the model predicts x0 directly.
	SamplePrediction = "sample"
)

// Timestep spacings accepted in Config.TimestepSpacing (Lin et al. 2023, Table 2).
const (
	// Leading: t = k·(T/n) + StepsOffset, k = n-1..0 (integer step ratio).
	// Never starts at the noisiest step T-1.
	Leading = "leading"
	// Trailing: t = round(T - k·T/n) - 1, k = 0..n-1. Starts at T-1; the
	// better choice for few steps.
	Trailing = "trailing"
	// Linspace: t = round(linspace(0, T-1, n)), reversed.
	Linspace = "linspace"
)

// DDPM variance types accepted in Config.VarianceType.
const (
	// FixedSmall is the posterior variance beta~_t = (1-ab_{t-1})/(1-ab_t)·beta_t.
	FixedSmall = "fixed_small"
	// FixedLarge is beta_t itself (Ho et al. found both work about as well).
	FixedLarge = "fixed_large"
)

// Config describes the forward noising process and the options of the
// schedulers. One Config serves every scheduler; fields that an algorithm
// does not use are ignored by it (the field comments say which use it).
// The JSON names follow diffusers' scheduler_config.json.
type Config struct {
	// NumTrainTimesteps is T, the number of diffusion steps of training.
	NumTrainTimesteps int `json:"num_train_timesteps"`
	// BetaStart and BetaEnd are beta_0 and beta_{T-1} of the linear schedules.
	BetaStart float64 `json:"beta_start"`
	BetaEnd   float64 `json:"beta_end"`
	// BetaSchedule is Linear, ScaledLinear, SquaredCosCapV2 or Cosine.
	BetaSchedule string `json:"beta_schedule"`
	// RescaleBetasZeroSNR shifts and scales sqrt(alpha_bar) so that the last
	// step is pure noise (alpha_bar_{T-1} = 0; Lin et al. 2023, Algorithm 1).
	// It needs Prediction VPrediction or SamplePrediction.
	RescaleBetasZeroSNR bool `json:"rescale_betas_zero_snr"`

	// Prediction is what the model outputs: Epsilon, VPrediction or SamplePrediction.
	Prediction string `json:"prediction_type"`
	// TimestepSpacing is Leading, Trailing or Linspace.
	TimestepSpacing string `json:"timestep_spacing"`
	// StepsOffset is added to the timesteps of Leading spacing (Stable Diffusion uses 1).
	StepsOffset int `json:"steps_offset"`

	// ClipSample clamps the predicted x0 to [-ClipSampleRange, ClipSampleRange]
	// before it is used (all schedulers).
	ClipSample      bool    `json:"clip_sample"`
	ClipSampleRange float64 `json:"clip_sample_range"`
	// Thresholding is the dynamic thresholding of Imagen (Saharia et al.
	// 2022): s = the DynamicThresholdingRatio quantile of |x0|, clamped to
	// [1, SampleMaxValue]; x0 = clamp(x0, -s, s)/s. The quantile is taken over
	// the whole slice passed to Step (the whole batch). It replaces ClipSample
	// when both are set.
	Thresholding             bool    `json:"thresholding"`
	DynamicThresholdingRatio float64 `json:"dynamic_thresholding_ratio"`
	SampleMaxValue           float64 `json:"sample_max_value"`

	// SetAlphaToOne makes the step after the last timestep land on
	// alpha_bar = 1 (a clean sample); otherwise it lands on alpha_bar_0
	// (DDIM and DPM-Solver++; DDPM always ends at alpha_bar = 1).
	SetAlphaToOne bool `json:"set_alpha_to_one"`
	// VarianceType is FixedSmall or FixedLarge (DDPM).
	VarianceType string `json:"variance_type"`
	// Eta is DDIM's eta: 0 is deterministic DDIM, 1 has DDPM's variance.
	Eta float64 `json:"eta"`
	// SolverOrder is 1 or 2 (DPM-Solver++; 2 is DPM-Solver++(2M)).
	SolverOrder int `json:"solver_order"`
	// LowerOrderFinal uses a first-order final step when fewer than 15
	// steps are taken (DPM-Solver++). The final step is first order anyway
	// when it lands on alpha_bar = 1.
	LowerOrderFinal bool `json:"lower_order_final"`

	// Process is the forward process: Gaussian ("" or "gaussian", the beta
	// schedules above) or Mask (absorbing-state diffusion over categorical
	// cells; see Masked). A model trained with Mask is sampled by Masked
	// whatever scheduler name is asked for.
	Process string `json:"process,omitempty"`
	// MaskCols lays out the cells of Process Mask: values come in rows of
	// three planes of MaskCols values each ([rows, 3, MaskCols]), and cell
	// (r, j) is the triple x[(3r+k)·MaskCols + j], k = 0, 1, 2: one-hot
	// (+1 on its category's plane, -1 elsewhere) when known, all 0 when
	// masked.
	MaskCols int `json:"mask_cols,omitempty"`
	// MaskTemperature sharpens (< 1) or flattens (> 1) the categorical
	// draws of Masked (0: 1, the model's own distribution).
	MaskTemperature float64 `json:"mask_temperature,omitempty"`
	// MaskOrder is which masked cells a step of Masked unmasks:
	// MaskConfidence ("" or "confidence": the cells whose drawn category the
	// model is surest of, with annealed Gumbel noise, as MaskGIT) or
	// MaskRandom ("random": each with the same probability, the ancestral
	// sampler of the absorbing process).
	MaskOrder string `json:"mask_order,omitempty"`
	// MaskChoiceNoise scales the Gumbel noise added to the confidences of
	// MaskConfidence (0: 1); the noise also shrinks to 0 over the steps.
	MaskChoiceNoise float64 `json:"mask_choice_noise,omitempty"`
}

// DefaultConfig is the configuration t2t trains with: Ho et al.'s linear
// schedule (1e-4 to 0.02 over 1000 steps), epsilon prediction, trailing
// timesteps, x0 clipped to [-1, 1] (the range of the image tensor),
// deterministic DDIM and DPM-Solver++(2M).
func DefaultConfig() Config {
	return Config{
		NumTrainTimesteps:        1000,
		BetaStart:                0.0001,
		BetaEnd:                  0.02,
		BetaSchedule:             Linear,
		Prediction:               Epsilon,
		TimestepSpacing:          Trailing,
		ClipSample:               true,
		ClipSampleRange:          1,
		DynamicThresholdingRatio: 0.995,
		SampleMaxValue:           1,
		SetAlphaToOne:            true,
		VarianceType:             FixedSmall,
		Eta:                      0,
		SolverOrder:              2,
		LowerOrderFinal:          true,
	}
}

// StableDiffusionConfig is the schedule of Stable Diffusion 1.x
// (scaled_linear 0.00085 to 0.012, leading spacing with offset 1, no clipping).
func StableDiffusionConfig() Config {
	c := DefaultConfig()
	c.BetaStart, c.BetaEnd, c.BetaSchedule = 0.00085, 0.012, ScaledLinear
	c.TimestepSpacing, c.StepsOffset = Leading, 1
	c.ClipSample = false
	c.SetAlphaToOne = false
	return c
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string // Go field name, e.g. "BetaEnd"
	Reason string
}

func (e *ConfigError) Error() string {
	return "sampler: invalid config: " + e.Field + ": " + e.Reason
}

func bad(field, format string, args ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate reports the first invalid field as a *ConfigError.
func (c Config) Validate() error {
	if c.NumTrainTimesteps < 1 || c.NumTrainTimesteps > 1<<20 {
		return bad("NumTrainTimesteps", "%d, want 1..%d", c.NumTrainTimesteps, 1<<20)
	}
	switch c.BetaSchedule {
	case Linear, ScaledLinear:
		if !finite(c.BetaStart) || c.BetaStart <= 0 || c.BetaStart >= 1 {
			return bad("BetaStart", "%v, want 0 < beta < 1", c.BetaStart)
		}
		if !finite(c.BetaEnd) || c.BetaEnd < c.BetaStart || c.BetaEnd >= 1 {
			return bad("BetaEnd", "%v, want BetaStart <= beta < 1", c.BetaEnd)
		}
	case SquaredCosCapV2, Cosine:
	default:
		return bad("BetaSchedule", "%q, want %q, %q, %q or %q", c.BetaSchedule, Linear, ScaledLinear, SquaredCosCapV2, Cosine)
	}
	switch c.Prediction {
	case Epsilon, VPrediction, SamplePrediction:
	default:
		return bad("Prediction", "%q, want %q, %q or %q", c.Prediction, Epsilon, VPrediction, SamplePrediction)
	}
	if c.RescaleBetasZeroSNR && c.Prediction == Epsilon {
		return bad("RescaleBetasZeroSNR", "zero terminal SNR cannot be sampled with epsilon prediction (x0 = (x_T - eps)/0); use %q", VPrediction)
	}
	switch c.TimestepSpacing {
	case Leading, Trailing, Linspace:
	default:
		return bad("TimestepSpacing", "%q, want %q, %q or %q", c.TimestepSpacing, Leading, Trailing, Linspace)
	}
	if c.StepsOffset < 0 || c.StepsOffset >= c.NumTrainTimesteps {
		return bad("StepsOffset", "%d, want 0..%d", c.StepsOffset, c.NumTrainTimesteps-1)
	}
	if c.ClipSample && (!finite(c.ClipSampleRange) || c.ClipSampleRange <= 0) {
		return bad("ClipSampleRange", "%v, want > 0", c.ClipSampleRange)
	}
	if c.Thresholding {
		if !finite(c.DynamicThresholdingRatio) || c.DynamicThresholdingRatio <= 0 || c.DynamicThresholdingRatio > 1 {
			return bad("DynamicThresholdingRatio", "%v, want 0 < ratio <= 1", c.DynamicThresholdingRatio)
		}
		if !finite(c.SampleMaxValue) || c.SampleMaxValue < 1 {
			return bad("SampleMaxValue", "%v, want >= 1", c.SampleMaxValue)
		}
	}
	switch c.VarianceType {
	case FixedSmall, FixedLarge:
	default:
		return bad("VarianceType", "%q, want %q or %q", c.VarianceType, FixedSmall, FixedLarge)
	}
	if !finite(c.Eta) || c.Eta < 0 {
		return bad("Eta", "%v, want >= 0", c.Eta)
	}
	if c.SolverOrder != 1 && c.SolverOrder != 2 {
		return bad("SolverOrder", "%d, want 1 or 2", c.SolverOrder)
	}
	switch c.Process {
	case "", Gaussian:
	case Mask:
		if c.Prediction != SamplePrediction {
			return bad("Prediction", "%q: process %q needs %q (the model predicts the cells' categories)", c.Prediction, Mask, SamplePrediction)
		}
		if c.MaskCols < 1 || c.MaskCols > 1<<20 {
			return bad("MaskCols", "%d, want 1..%d", c.MaskCols, 1<<20)
		}
		if !finite(c.MaskTemperature) || c.MaskTemperature < 0 || c.MaskTemperature > 100 {
			return bad("MaskTemperature", "%v, want 0..100", c.MaskTemperature)
		}
		if !finite(c.MaskChoiceNoise) || c.MaskChoiceNoise < 0 || c.MaskChoiceNoise > 100 {
			return bad("MaskChoiceNoise", "%v, want 0..100", c.MaskChoiceNoise)
		}
		switch c.MaskOrder {
		case "", MaskConfidence, MaskRandom:
		default:
			return bad("MaskOrder", "%q, want %q or %q", c.MaskOrder, MaskConfidence, MaskRandom)
		}
	default:
		return bad("Process", "%q, want %q or %q", c.Process, Gaussian, Mask)
	}
	return nil
}

// Forward processes accepted in Config.Process.
const (
	// Gaussian: x_t = sqrt(ab_t)·x0 + sqrt(1-ab_t)·eps (the default).
	Gaussian = "gaussian"
	// Mask: each cell is masked (all its planes 0) with probability
	// MaskRate(t) and kept otherwise (absorbing-state, or masked, diffusion:
	// Austin et al. 2021, Sahoo et al. 2024 "MDLM").
	Mask = "mask"
)

// Unmasking orders accepted in Config.MaskOrder.
const (
	MaskConfidence = "confidence"
	MaskRandom     = "random"
)
