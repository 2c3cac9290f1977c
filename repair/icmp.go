package repair

import "slices"

// icmp makes an echo session: requests from the client, replies from the
// server with the identifier of the session (the rows' most frequent one,
// or Options.ClientPort), each reply answering one
// request that no other reply answers: the request of its own sequence
// number, else the last request, else the oldest unanswered one (a
// request is inserted before a reply when every request is answered).
func (rp *repairer) icmp(ps []*pkt) []*pkt {
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
			if req != nil {
				if d := uint16(q.roh) - uint16(req.roh); d == 0 || d > 1024 {
					q.roh = q.roh&0xffff0000 | uint32(uint16(req.roh)+1)
				}
			}
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
			if req != nil {
				seq = uint16(req.roh) + 1
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
