package pipeline_test

import (
	"context"
	"fmt"
	"os"

	"t2t"
	"t2t/internal/testmodel"
	"t2t/models"
	"t2t/pipeline"
	"t2t/sampler"
)

// Generate samples flows for a prompt with a model folder's model and
// repairs them into valid packets; the scheduler is a value, built once.
func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "t2t-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := testmodel.Build("..", dir, 10); err != nil { // a barely trained Tiny model of dns and ssh
		fmt.Println(err)
		return
	}
	f, err := models.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := sampler.New("ddim", f.Model.Noise)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := pipeline.Generate(context.Background(), f.Model, "type-0", pipeline.Options{
		Profile: f.Profile, Payload: "zeros",
		SampleOptions: pipeline.SampleOptions{N: 3, Steps: 4, Seed: 1, Scheduler: s}})
	if err != nil {
		fmt.Println(err)
		return
	}
	valid := 0
	for _, p := range out.Packets {
		if t2t.ChecksumsValid(p.Data[14:]) { // after the Ethernet header
			valid++
		}
	}
	fmt.Printf("prompt type-0 is class %s: %d flows sampled\n", out.Class, len(out.Matrices))
	fmt.Printf("every flow repaired or found empty: %v\n", len(out.Results)+out.Empty == len(out.Matrices))
	fmt.Printf("packets with valid checksums: %v\n", valid == len(out.Packets) && valid > 0)
	// Output:
	// prompt type-0 is class dns: 3 flows sampled
	// every flow repaired or found empty: true
	// packets with valid checksums: true
}
