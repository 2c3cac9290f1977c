// Package trace makes traces: flows of several classes from a t2t model,
// between many hosts, at the times real traffic of each class arrives,
// merged into one capture. pipeline.Generate gives every flow its own pair
// of hosts and starts flows a fixed 50 ms apart; a trace is what a capture
// point would see: a pool of clients reused across flows, one server per
// class, flows that overlap as their arrival process has them, and every
// host with one MAC throughout.
//
// # Arrivals
//
// An Arrivals holds, per class, what Learn measures of a labelled data
// set (pcapio.LoadDataset): the flows per second, the coefficient of
// variation of the gaps between flow starts (1 for a Poisson process) and
// the gaps themselves (or MaxGaps quantiles of them). It is JSON; Default
// returns the one learned from the embedded model's training captures
// (testdata/train), for its 14 classes:
//
//	ds, err := pcapio.LoadDataset("captures", pcapio.FlowOptions{MaxPackets: 1})
//	a := trace.Learn(ds)
//	b, err := a.Marshal()          // JSON, one line per class
//	a, err = trace.ParseArrivals(b) // validated: the file may come from anyone
//
// # Plans
//
// NewPlan draws each class's flow starts from its process, a renewal
// process over its learned gaps (ClassArrivals.Starts): with a number of
// flows and a span, the gaps are scaled by one factor so that the flows
// fill the span and keep the process's shape; with a span only, at the
// learned rate. Each flow draws a client from the Topology's pool and goes
// to its class's server:
//
//	cs, err := trace.Default().Split(1000, []string{"dns", "http", "ssh", "ntp", "icmp"})
//	plan, err := trace.NewPlan(cs, trace.Options{Span: time.Minute, Seed: 1})
//
// # Traces
//
// Generate samples each class's flows with the model as pipeline.Generate
// does (pipeline.SampleFlows) and Place repairs each into its slot: its
// client and server, MACs derived from their addresses (MAC), its start,
// a client port drawn from the class's real range (an ICMP flow: the
// model's echo identifier), drawn again while the flow's 5-tuple is
// taken by an earlier flow (until Options.Margin after its last packet):
//
//	f, err := models.Load("")
//	opt.Sample = pipeline.Options{SampleOptions: pipeline.SampleOptions{Steps: pipeline.FastSteps, Guidance: 2},
//		Profile: f.Profile, Templates: f.Templates}
//	tr, err := trace.Generate(ctx, f.Model, plan, opt)
//	err = tr.WriteFile("trace.pcap")
//
// GapJSD compares the gaps of a trace's flows with real ones; examples/trace
// is the command.
//
// The arrivals are embedded here, not in the model folder (t2t/models),
// because they need no model: they are a property of the captures, keyed
// by class name, and serve any model of those classes; and because this
// package samples through pipeline, whose tests load models, so that
// models could not import it.
package trace
