package repair

// icmp makes an echo session: requests from the client, replies from the
// server with the identifier of the session, each reply answering the last
// request (a request is inserted before a reply that has none).
func (rp *repairer) icmp(ps []*pkt) []*pkt {
	ids := counter{}
	for _, q := range ps {
		ids[int(q.roh>>16)]++
	}
	id, _ := mode(ids.list())
	var out []*pkt
	var req *pkt              // the last request
	reqs := map[uint16]*pkt{} // requests by sequence number
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
			out = append(out, q)
			continue
		}
		q.typ = 0
		if req == nil {
			req = &pkt{row: -1, dir: 0, typ: 8, roh: q.roh, plen: q.plen, df: true}
			reqs[uint16(q.roh)] = req
			out = append(out, req)
			rp.lg.Inserted++
		}
		// a reply answers the request of its sequence number, or else
		// the last request
		r, ok := reqs[uint16(q.roh)]
		if !ok {
			r = req
		}
		q.roh, q.plen = r.roh, r.plen
		out = append(out, q)
	}
	return out
}
