package trace

import (
	"testing"
	"time"

	"t2t/pipeline"
)

// BenchmarkPlace measures placing flows without sampling them: the plan
// (arrivals, clients) and the repair of real flows into it with their
// ports drawn and 5-tuples checked, per flow, for a trace of 1,000 flows
// of five classes over 60 s.
func BenchmarkPlace(b *testing.B) {
	classes := []string{"dns", "http", "icmp", "ntp", "ssh"}
	mats, prof := realMatrices(b, 1000, classes...)
	opt := Options{Span: time.Minute, Seed: 1, Sample: pipeline.Options{Profile: prof}}
	cs, err := Default().Split(1000, classes)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plan, err := NewPlan(cs, opt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Place(plan, mats, opt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/1000, "s/flow")
}

// BenchmarkPlan measures the plan alone (start times, clients) of 1,000
// flows.
func BenchmarkPlan(b *testing.B) {
	cs, err := Default().Split(1000, []string{"dns", "http", "icmp", "ntp", "ssh"})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := NewPlan(cs, Options{Span: time.Minute, Seed: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
