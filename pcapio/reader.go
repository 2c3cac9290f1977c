package pcapio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"time"

	"t2t"
)

// MaxCapLen is the largest number of captured bytes the Reader accepts in
// one packet record (256 KiB, libpcap's largest snapshot length). A record
// that claims more is reported as corrupt rather than allocated.
const MaxCapLen = 256 << 10

// maxBlockLen bounds the pcapng blocks the Reader holds in memory (section
// and interface headers, packet blocks). Blocks it skips may be longer.
const maxBlockLen = MaxCapLen + 64<<10

// Format is a capture file format.
type Format int

// The formats the Reader sniffs from the first four bytes of a file.
const (
	FormatPcap   Format = iota + 1 // classic libpcap format
	FormatPcapNG                   // pcapng
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Packet is one captured packet.
type Packet struct {
	Time time.Time // capture time; zero for pcapng simple packet blocks, which carry none
	// Data holds the captured bytes. Packets returned by Reader.Next alias
	// the Reader's buffer and are valid only until the next call to Next.
	Data      []byte
	OrigLen   int          // length of the packet on the wire (>= len(Data) in valid files)
	Link      t2t.LinkType // link type of the capturing interface
	Interface int          // pcapng interface index within its section; 0 for pcap
	Offset    int64        // file offset of the packet's record or block
}

// Clone returns a copy of p whose Data does not alias any buffer.
func (p Packet) Clone() Packet {
	p.Data = append([]byte(nil), p.Data...)
	return p
}

// FormatError reports a malformed or truncated capture file. Offset is the
// byte offset in the file of the header, record or block at fault.
type FormatError struct {
	File   string // file name, "" when unknown
	Offset int64
	Msg    string
	Err    error // underlying error (io.ErrUnexpectedEOF for truncated input), may be nil
}

func (e *FormatError) Error() string {
	s := "pcapio: "
	if e.File != "" {
		s += e.File + ": "
	}
	s += fmt.Sprintf("offset %d: %s", e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

// iface is a pcapng interface (or the single pseudo-interface of a pcap file).
type iface struct {
	link    t2t.LinkType
	snaplen uint32 // 0: unlimited
	// timestamp resolution: ts units per second is 10^exp (pow10) or 2^exp
	pow10  bool
	exp    uint
	div    uint64 // 10^exp when pow10
	offset int64  // if_tsoffset, seconds
}

// Reader reads packets from a pcap or pcapng stream. It is not safe for
// concurrent use.
type Reader struct {
	br     *bufio.Reader
	closer io.Closer
	file   string
	format Format
	order  binary.ByteOrder
	off    int64 // offset of the next unread byte

	// pcap
	nano    bool
	snaplen uint32
	link    t2t.LinkType

	// pcapng: interfaces of the current section
	ifaces    []iface
	firstLink t2t.LinkType
	haveLink  bool
	untilIDB  bool // nextNG stops after an interface block

	hdr [32]byte
	buf []byte

	overSnaplen int // records longer than their snaplen, read whole
}

// OverSnaplen is the number of records read so far that are longer than
// the snaplen of their file (pcap) or interface (pcapng). Such files
// break the format's rule, but libpcap and tshark read the records whole,
// and so does Reader; a command may warn about them.
func (r *Reader) OverSnaplen() int { return r.overSnaplen }

// NewReader reads the file header from r and returns a Reader for the
// packets that follow. The format (pcap in either byte order, with
// microsecond or nanosecond timestamps, or pcapng) is sniffed from the
// magic number. If r has a Name method (as *os.File does), the name is used
// in errors.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10)}
	if n, ok := r.(interface{ Name() string }); ok {
		rd.file = n.Name()
	}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	return rd, nil
}

// Open opens the capture file at path. Errors name the path.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// Close closes the file opened by Open. It does nothing for a Reader made
// by NewReader.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

// Format returns the format of the file.
func (r *Reader) Format() Format { return r.format }

// File returns the file name used in errors ("" when unknown).
func (r *Reader) File() string { return r.file }

// LinkType returns the link type of the pcap file, or of the first
// interface of a pcapng file (NewReader reads up to it). A pcapng file
// without interfaces gives LinkNull.
func (r *Reader) LinkType() t2t.LinkType {
	if r.format == FormatPcap {
		return r.link
	}
	return r.firstLink
}

func (r *Reader) errf(off int64, err error, format string, args ...any) error {
	return &FormatError{File: r.file, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
}

// read fills p from the stream. A clean end (no byte read) gives io.EOF,
// a partial read io.ErrUnexpectedEOF.
func (r *Reader) read(p []byte) error {
	n, err := io.ReadFull(r.br, p)
	r.off += int64(n)
	return err
}

// truncErr turns a read error into a FormatError at off.
func (r *Reader) truncErr(off int64, err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return r.errf(off, io.ErrUnexpectedEOF, "truncated %s", what)
	}
	return r.errf(off, err, "reading %s", what)
}

// grow returns r.buf resized to n bytes.
func (r *Reader) grow(n int) []byte {
	if cap(r.buf) < n {
		r.buf = make([]byte, n, max(n, 2*cap(r.buf), 4096))
	}
	return r.buf[:n]
}

const (
	magicMicro        = 0xa1b2c3d4
	magicNano         = 0xa1b23c4d
	magicMicroSwapped = 0xd4c3b2a1
	magicNanoSwapped  = 0x4d3cb2a1
	magicNG           = 0x0a0d0d0a // pcapng section header block type
	ngByteOrderMagic  = 0x1a2b3c4d
)

func (r *Reader) readHeader() error {
	h := r.hdr[:4]
	if err := r.read(h); err != nil {
		return r.truncErr(0, err, "file header")
	}
	m := binary.LittleEndian.Uint32(h)
	switch m {
	case magicMicro, magicNano:
		r.order = binary.LittleEndian
	case magicMicroSwapped, magicNanoSwapped:
		r.order = binary.BigEndian
	case magicNG:
		r.format = FormatPcapNG
		if err := r.read(r.hdr[4:8]); err != nil {
			return r.truncErr(0, err, "pcapng section header")
		}
		if err := r.readSection(0, r.hdr[4:8]); err != nil {
			return err
		}
		// Read on to the first interface description, so that LinkType
		// is known.
		r.untilIDB = true
		_, err := r.nextNG()
		r.untilIDB = false
		if err == errFoundIDB || err == io.EOF {
			return nil
		}
		return err
	default:
		return r.errf(0, nil, "unknown magic number %#08x: not a pcap or pcapng file", binary.BigEndian.Uint32(h))
	}
	r.format = FormatPcap
	r.nano = m == magicNano || m == magicNanoSwapped
	h = r.hdr[4:24]
	if err := r.read(h); err != nil {
		return r.truncErr(0, err, "pcap file header")
	}
	major := r.order.Uint16(h[0:])
	if major != 2 {
		return r.errf(0, nil, "unsupported pcap version %d.%d", major, r.order.Uint16(h[2:]))
	}
	r.snaplen = r.order.Uint32(h[12:])
	// The link-layer header type is the low 16 bits; the high bits may
	// carry an FCS length.
	r.link = t2t.LinkType(r.order.Uint32(h[16:]) & 0xffff)
	return nil
}

// Next returns the next packet, or io.EOF at a clean end of file. The
// returned Data aliases the Reader's buffer and is valid until the next
// call to Next; use Packet.Clone to keep it. A corrupt or truncated file
// gives a *FormatError (wrapping io.ErrUnexpectedEOF when truncated).
func (r *Reader) Next() (Packet, error) {
	if r.format == FormatPcap {
		return r.nextPcap()
	}
	return r.nextNG()
}

func (r *Reader) nextPcap() (Packet, error) {
	start := r.off
	h := r.hdr[:16]
	if err := r.read(h); err != nil {
		if err == io.EOF {
			return Packet{}, io.EOF
		}
		return Packet{}, r.truncErr(start, err, "record header")
	}
	sec := r.order.Uint32(h[0:])
	frac := r.order.Uint32(h[4:])
	caplen := r.order.Uint32(h[8:])
	orig := r.order.Uint32(h[12:])
	if caplen > MaxCapLen {
		return Packet{}, r.errf(start, nil, "record length %d exceeds the %d-byte limit", caplen, MaxCapLen)
	}
	if r.snaplen != 0 && caplen > r.snaplen {
		r.overSnaplen++
	}
	data := r.grow(int(caplen))
	if err := r.read(data); err != nil {
		return Packet{}, r.truncErr(start, err, fmt.Sprintf("record (%d-byte packet)", caplen))
	}
	ns := int64(frac)
	if !r.nano {
		ns *= 1000
	}
	return Packet{
		Time:    time.Unix(int64(sec), ns),
		Data:    data,
		OrigLen: int(orig),
		Link:    r.link,
		Offset:  start,
	}, nil
}

// pcapng block types.
const (
	blockIDB = 0x00000001
	blockOPB = 0x00000002 // obsolete packet block
	blockSPB = 0x00000003
	blockEPB = 0x00000006
)

func (r *Reader) checkBlockLen(start int64, total uint32, min uint32) error {
	if total%4 != 0 {
		return r.errf(start, nil, "pcapng block length %d is not a multiple of 4", total)
	}
	if total < min {
		return r.errf(start, nil, "pcapng block length %d is shorter than the %d-byte minimum", total, min)
	}
	if total > maxBlockLen {
		return r.errf(start, nil, "pcapng block length %d exceeds the %d-byte limit", total, maxBlockLen)
	}
	return nil
}

// checkTrailer checks the trailing block length, the last 4 bytes of body.
func (r *Reader) checkTrailer(start int64, total uint32, body []byte) error {
	if t := r.order.Uint32(body[len(body)-4:]); t != total {
		return r.errf(start, nil, "pcapng trailing block length %d does not match leading length %d", t, total)
	}
	return nil
}

var errFoundIDB = errors.New("found IDB")

func (r *Reader) nextNG() (Packet, error) {
	for {
		start := r.off
		h := r.hdr[:8]
		if err := r.read(h); err != nil {
			if err == io.EOF {
				return Packet{}, io.EOF
			}
			return Packet{}, r.truncErr(start, err, "pcapng block header")
		}
		typ := r.order.Uint32(h[0:])
		if typ == magicNG {
			// A new section may switch byte order: re-read its length
			// there.
			if err := r.readSection(start, h[4:8]); err != nil {
				return Packet{}, err
			}
			continue
		}
		total := r.order.Uint32(h[4:])
		switch typ {
		case blockEPB, blockSPB, blockOPB, blockIDB:
		default:
			// Skip blocks t2t does not use, without holding them in memory.
			if total%4 != 0 || total < 12 {
				return Packet{}, r.checkBlockLen(start, total, 12)
			}
			n, err := r.br.Discard(int(total) - 12)
			r.off += int64(n)
			if err != nil {
				return Packet{}, r.truncErr(start, err, fmt.Sprintf("pcapng block of type %#x", typ))
			}
			if err := r.read(r.hdr[8:12]); err != nil {
				return Packet{}, r.truncErr(start, err, fmt.Sprintf("pcapng block of type %#x", typ))
			}
			if err := r.checkTrailer(start, total, r.hdr[8:12]); err != nil {
				return Packet{}, err
			}
			continue
		}
		min := uint32(12)
		switch typ {
		case blockIDB:
			min = 20
		case blockSPB:
			min = 16
		case blockEPB, blockOPB:
			min = 32
		}
		if err := r.checkBlockLen(start, total, min); err != nil {
			return Packet{}, err
		}
		body := r.grow(int(total) - 8)
		if err := r.read(body); err != nil {
			return Packet{}, r.truncErr(start, err, "pcapng block")
		}
		if err := r.checkTrailer(start, total, body); err != nil {
			return Packet{}, err
		}
		body = body[:len(body)-4]
		if typ == blockIDB {
			if err := r.addInterface(start, body); err != nil {
				return Packet{}, err
			}
			if r.untilIDB {
				return Packet{}, errFoundIDB
			}
			continue
		}
		return r.packetBlock(start, typ, body)
	}
}

// readSection reads a section header block that starts at start; its
// type word and length (in a byte order not known yet) have been read, the
// length into rest.
func (r *Reader) readSection(start int64, rest []byte) error {
	var lenb [4]byte
	copy(lenb[:], rest)
	bom := r.hdr[12:16]
	if err := r.read(bom); err != nil {
		return r.truncErr(start, err, "pcapng section header")
	}
	switch binary.LittleEndian.Uint32(bom) {
	case ngByteOrderMagic:
		r.order = binary.LittleEndian
	case 0x4d3c2b1a:
		r.order = binary.BigEndian
	default:
		return r.errf(start, nil, "bad pcapng byte-order magic %#08x", binary.BigEndian.Uint32(bom))
	}
	total := r.order.Uint32(lenb[:])
	if err := r.checkBlockLen(start, total, 28); err != nil {
		return err
	}
	body := r.grow(int(total) - 12)
	if err := r.read(body); err != nil {
		return r.truncErr(start, err, "pcapng section header")
	}
	if err := r.checkTrailer(start, total, body); err != nil {
		return err
	}
	if major := r.order.Uint16(body[0:]); major != 1 {
		return r.errf(start, nil, "unsupported pcapng version %d.%d", major, r.order.Uint16(body[2:]))
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// addInterface parses an interface description block body (after the
// block length, before the trailing length).
func (r *Reader) addInterface(start int64, body []byte) error {
	ifc := iface{
		link:    t2t.LinkType(r.order.Uint16(body[0:])),
		snaplen: r.order.Uint32(body[4:]),
		pow10:   true,
		exp:     6,
		div:     1e6,
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code := r.order.Uint16(opts[0:])
		n := int(r.order.Uint16(opts[2:]))
		opts = opts[4:]
		if code == 0 {
			break
		}
		if n > len(opts) {
			return r.errf(start, nil, "pcapng interface option %d of %d bytes overruns its block", code, n)
		}
		v := opts[:n]
		switch code {
		case 9: // if_tsresol
			if n != 1 {
				return r.errf(start, nil, "pcapng if_tsresol option of %d bytes, want 1", n)
			}
			if v[0]&0x80 != 0 {
				ifc.pow10 = false
				ifc.exp = uint(v[0] & 0x7f)
				if ifc.exp > 63 {
					return r.errf(start, nil, "pcapng if_tsresol 2^-%d is not supported", ifc.exp)
				}
			} else {
				ifc.exp = uint(v[0])
				if ifc.exp > 19 {
					return r.errf(start, nil, "pcapng if_tsresol 10^-%d is not supported", ifc.exp)
				}
				ifc.div = 1
				for range ifc.exp {
					ifc.div *= 10
				}
			}
		case 14: // if_tsoffset
			if n != 8 {
				return r.errf(start, nil, "pcapng if_tsoffset option of %d bytes, want 8", n)
			}
			ifc.offset = int64(r.order.Uint64(v))
		}
		opts = opts[(n+3)&^3:]
	}
	if len(r.ifaces) >= 1<<16 {
		return r.errf(start, nil, "too many pcapng interfaces")
	}
	r.ifaces = append(r.ifaces, ifc)
	if !r.haveLink {
		r.haveLink = true
		r.firstLink = ifc.link
	}
	return nil
}

// time converts a pcapng timestamp in units of ifc's resolution; ok is
// false when its seconds plus if_tsoffset overflow.
func (ifc *iface) time(ts uint64) (t time.Time, ok bool) {
	var sec, ns uint64
	if ifc.pow10 {
		sec = ts / ifc.div
		frac := ts % ifc.div
		switch {
		case ifc.exp <= 9:
			for e := ifc.exp; e < 9; e++ {
				frac *= 10
			}
			ns = frac
		default:
			for e := ifc.exp; e > 9; e-- {
				frac /= 10
			}
			ns = frac
		}
	} else {
		sec = ts >> ifc.exp
		frac := ts - sec<<ifc.exp
		if ifc.exp > 0 {
			hi, lo := bits.Mul64(frac, 1e9)
			// (hi:lo) >> exp; the result is < 1e9.
			ns = lo>>ifc.exp | hi<<(64-ifc.exp)
		}
	}
	// sec + offset must fit an int64 (sec >= 0, so only a positive offset overflows)
	if sec > math.MaxInt64 || ifc.offset > 0 && int64(sec) > math.MaxInt64-ifc.offset {
		return time.Time{}, false
	}
	return time.Unix(int64(sec)+ifc.offset, int64(ns)), true
}

// packetBlock decodes an EPB, SPB or OPB body (without the block type,
// length and trailing length).
func (r *Reader) packetBlock(start int64, typ uint32, body []byte) (Packet, error) {
	var (
		id        int
		ts        uint64
		caplen    uint32
		orig      uint32
		data      []byte
		hasTime   = true
		available = 0
	)
	switch typ {
	case blockEPB, blockOPB:
		if typ == blockEPB {
			id = int(r.order.Uint32(body[0:]))
		} else {
			id = int(r.order.Uint16(body[0:]))
		}
		ts = uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
		caplen = r.order.Uint32(body[12:])
		orig = r.order.Uint32(body[16:])
		data = body[20:]
		available = len(data)
		if uint64(caplen) > uint64(available) {
			return Packet{}, r.errf(start, nil, "pcapng packet length %d overruns its %d-byte block", caplen, available+32)
		}
	case blockSPB:
		id = 0
		hasTime = false
		orig = r.order.Uint32(body[0:])
		data = body[4:]
		caplen = orig
		if caplen > uint32(len(data)) {
			caplen = uint32(len(data))
		}
	}
	if id < 0 || id >= len(r.ifaces) {
		return Packet{}, r.errf(start, nil, "pcapng packet refers to interface %d, but the section describes %d", id, len(r.ifaces))
	}
	ifc := &r.ifaces[id]
	if typ == blockSPB && ifc.snaplen != 0 && caplen > ifc.snaplen {
		caplen = ifc.snaplen
	} else if ifc.snaplen != 0 && caplen > ifc.snaplen {
		r.overSnaplen++
	}
	if caplen > MaxCapLen {
		return Packet{}, r.errf(start, nil, "record length %d exceeds the %d-byte limit", caplen, MaxCapLen)
	}
	p := Packet{
		Data:      data[:caplen],
		OrigLen:   int(orig),
		Link:      ifc.link,
		Interface: id,
		Offset:    start,
	}
	if hasTime {
		var ok bool
		if p.Time, ok = ifc.time(ts); !ok {
			return Packet{}, r.errf(start, nil, "pcapng timestamp %d (if_tsoffset %d s) is out of range", ts, ifc.offset)
		}
	}
	return p, nil
}

// ReadAll reads all remaining packets, copying their data, until io.EOF.
// On error it returns the packets read so far with the error.
func (r *Reader) ReadAll() ([]Packet, error) {
	var ps []Packet
	for {
		p, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return ps, nil
			}
			return ps, err
		}
		ps = append(ps, p.Clone())
	}
}
