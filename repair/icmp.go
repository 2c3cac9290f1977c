package repair

import "slices"

// icmp makes an echo session: requests from the client, replies from the
// server with the identifier of the session (the rows' most frequent one,
// or Options.ClientPort), each reply answering one
// request that no other reply answers: the request of its own sequence
// number, else the last request, else the oldest unanswered one (a
// request is inserted before a reply when every request is answered).
// Sequence numbers follow the class's real sessions: the first request's
// is kept when real flows start there, else drawn from where they start;
// each next request's is kept when its step is one real flows take, else
// the previous plus the most frequent step (ping: from 1, one by one).
func (rp *repairer) icmp(ps []*pkt) []*pkt {
	step := 1
	var first, steps []Count
	if rp.cp != nil {
		first, steps = rp.cp.EchoFirst, rp.cp.EchoSteps
		if s, ok := mode(steps); ok && s > 0 {
			step = s
		}
	}
	next := func(prev uint16) uint16 { return prev + uint16(step) }
	ids := counter{}
	for _, q := range ps {
		ids[int(q.roh>>16)]++
	}
	id, _ := mode(ids.list())
	if rp.opts.ClientPort != 0 {
		id = int(rp.opts.ClientPort)
	}
	var out []*pkt
	var req *pkt              // the last request
	reqs := map[uint16]*pkt{} // requests by sequence number
	var open []*pkt           // unanswered requests, oldest first
	for _, q := range ps {
		q.code = 0
		q.roh = uint32(id)<<16 | q.roh&0xffff
		if q.dir == 0 {
			q.typ = 8
			seq := uint16(q.roh)
			switch d := seq - uint16(req0(req)); {
			case req == nil && len(first) > 0:
				seq = uint16(rp.drawValue(int(seq), first, 0, 65535))
			case req != nil && len(steps) > 0 && !contains(steps, int(d)):
				seq = next(uint16(req.roh))
			case req != nil && (d == 0 || d > 1024):
				seq = next(uint16(req.roh))
			}
			q.roh = q.roh&0xffff0000 | uint32(seq)
			req = q
			reqs[uint16(q.roh)] = q
			open = append(open, q)
			out = append(out, q)
			continue
		}
		q.typ = 0
		r := answered(open, reqs[uint16(q.roh)], req)
		if r == nil { // every request answered: the one this reply answers
			seq := uint16(q.roh)
			switch {
			case req != nil:
				seq = next(uint16(req.roh))
			case len(first) > 0:
				seq = uint16(rp.drawValue(int(seq), first, 0, 65535))
			}
			r = &pkt{row: -1, dir: 0, typ: 8, roh: q.roh&0xffff0000 | uint32(seq), plen: q.plen, df: true}
			req = r
			reqs[seq] = r
			out = append(out, r)
			rp.lg.Inserted++
		}
		open = slices.DeleteFunc(open, func(o *pkt) bool { return o == r })
		q.roh, q.plen, q.echo = r.roh, r.plen, r
		out = append(out, q)
	}
	return out
}

// answered picks the request a reply answers among the unanswered ones:
// same, the request of the reply's sequence number, else last, the last
// request, else the oldest; nil when every request is answered.
func answered(open []*pkt, same, last *pkt) *pkt {
	for _, want := range []*pkt{same, last} {
		if want != nil && slices.Contains(open, want) {
			return want
		}
	}
	if len(open) > 0 {
		return open[0]
	}
	return nil
}

// req0 is the sequence number of request r (0 for none).
func req0(r *pkt) uint32 {
	if r == nil {
		return 0
	}
	return r.roh & 0xffff
}
