package t2tbeam

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
)

// Run builds a pipeline with build and runs it on the runner that Beam's
// flags choose (--runner; beamx's default is Prism, in process). It
// returns the pipeline's counters (namespace t2t): files, packets,
// bad_files, flows.
func Run(ctx context.Context, build func(beam.Scope) error) (map[string]int64, time.Duration, error) {
	p, s := beam.NewPipelineWithRoot()
	if err := build(s); err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	res, err := beamx.RunWithMetrics(ctx, p)
	if err != nil {
		return nil, 0, fmt.Errorf("t2tbeam: %w", err)
	}
	counts := map[string]int64{}
	if res != nil {
		for _, c := range res.Metrics().AllMetrics().Counters() {
			if c.Namespace() == "t2t" {
				counts[c.Key.Name] += c.Result()
			}
		}
	}
	return counts, time.Since(t0), nil
}

// ManifestPath is the manifest.json of an output folder.
func ManifestPath(out string) string { return joinPath(out, "manifest.json") }
