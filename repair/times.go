package repair

import "time"

// times sets monotone timestamps: the matrix's when it carries them (and
// they are monotone), otherwise gaps drawn from the class profile.
func (rp *repairer) times(ps []*pkt) {
	m := rp.m
	use := m.Times != nil && !rp.opts.IgnoreTimes
	if use {
		var last time.Time
		for _, q := range ps {
			if q.row < 0 {
				continue
			}
			t := m.Times[q.row]
			if t.IsZero() || t.Before(last) {
				use = false
				break
			}
			last = t
		}
	}
	if use {
		var first time.Time
		for _, q := range ps {
			if q.row >= 0 {
				first = m.Times[q.row]
				break
			}
		}
		shift := time.Duration(0)
		if !rp.opts.Start.IsZero() {
			shift = rp.opts.Start.Sub(first)
		}
		// inserted packets take the time of the packet before them (of
		// the first kept one when they lead)
		cur := first.Add(shift)
		for _, q := range ps {
			if q.row >= 0 {
				cur = m.Times[q.row].Add(shift)
			}
			q.t = cur
		}
		return
	}
	if m.Times != nil {
		rp.lg.Notes = append(rp.lg.Notes, "matrix times not monotone: drawn from the profile")
	}
	t := rp.opts.Start
	if t.IsZero() {
		t = DefaultStart
	}
	for i, q := range ps {
		if i > 0 {
			t = t.Add(time.Duration(rp.cp.sampleIAT(i, rp.rng)) * time.Microsecond)
		}
		q.t = t
	}
}
