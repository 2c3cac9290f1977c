package trace_test

import (
	"fmt"
	"time"

	"t2t/trace"
)

// A plan of 1,000 flows of five classes over a minute: the flows split by
// the classes' real rates, each class with its server, every flow from
// one of 50 clients.
func ExampleNewPlan() {
	classes := []string{"dns", "http", "ssh", "ntp", "icmp"}
	cs, err := trace.Default().Split(1000, classes)
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := trace.NewPlan(cs, trace.Options{Span: time.Minute, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	n := plan.Count()
	for _, c := range classes {
		fmt.Printf("%-4s %3d flows to %v\n", c, n[c], plan.Servers[c])
	}
	fmt.Println(len(plan.Clients), "clients, first", plan.Slots[0].Start.Sub(plan.Start).Round(time.Millisecond), "in")
	// Output:
	// dns  432 flows to 10.2.0.1
	// http 180 flows to 10.2.0.2
	// ssh   50 flows to 10.2.0.5
	// ntp  182 flows to 10.2.0.4
	// icmp 156 flows to 10.2.0.3
	// 50 clients, first 12ms in
}
