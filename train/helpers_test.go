package train

import (
	"math/rand/v2"

	"t2t"
	"t2t/unet"
)

// micro is the smallest UNet with every kind of block.
func micro() unet.Config {
	c := unet.Tiny()
	c.Rows, c.Channels, c.Attn, c.Heads, c.Groups = 4, []int{4, 8}, []bool{true, true}, 2, 2
	c.TimeDim, c.EmbedDim, c.ContextDim, c.MaxTokens, c.VocabCap = 4, 6, 4, 2, 5
	c.Layout = t2t.LayoutSpec{UDP: true}
	c.Cols = 64
	return c
}

// benchExamples are n random ±1 inputs for c with the null prompt.
func benchExamples(c unet.Config, n int) []Example {
	rng := rand.New(rand.NewPCG(1, 1))
	var ex []Example
	for i := 0; i < n; i++ {
		x := make([]float32, c.InputSize())
		for j := range x {
			x[j] = float32(rng.IntN(2)*2 - 1)
		}
		ex = append(ex, Example{X: x, Prompts: [][]int{unet.NullPrompt(c.MaxTokens)}})
	}
	return ex
}
