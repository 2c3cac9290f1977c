package repair

import "testing"

// BenchmarkFlow repairs a real 32-packet flow with some noise.
func BenchmarkFlow(b *testing.B) {
	flows := committed(b)
	prof := BuildProfile(flows)
	var m0 = encode(b, flows["ssh"][0]).Resize(32)
	rng := newRand(1)
	for k := range m0.Bits {
		if rng.IntN(100) < 3 {
			m0.Bits[k] = int8(rng.IntN(3) - 1)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Flow(m0, "ssh", prof, Options{}, newRand(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
}
