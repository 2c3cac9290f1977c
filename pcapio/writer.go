package pcapio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"t2t"
)

// DefaultSnaplen is the snapshot length a Writer records when
// WriterOptions.Snaplen is zero.
const DefaultSnaplen = MaxCapLen

// WriterOptions configures a Writer. The zero value writes microsecond
// timestamps with snaplen DefaultSnaplen.
type WriterOptions struct {
	Nanosecond bool // write nanosecond timestamps (magic a1b23c4d)
	Snaplen    int  // largest packet accepted; 0 means DefaultSnaplen, at most MaxCapLen
}

// ErrNoTimestamp is returned by Writer.WritePacket for a zero time: pcap
// writers that default to the current time hide bugs, so t2t requires one.
var ErrNoTimestamp = errors.New("pcapio: zero timestamp: timestamps are required")

// Writer writes a classic pcap file (little-endian). Call Flush when done.
type Writer struct {
	w       *bufio.Writer
	link    t2t.LinkType
	nano    bool
	snaplen int
	hdr     [16]byte
	n       int // packets written
	err     error
}

// NewWriter writes a pcap file header for link-layer type link to w and
// returns a Writer for its packets.
func NewWriter(w io.Writer, link t2t.LinkType, opts WriterOptions) (*Writer, error) {
	if opts.Snaplen < 0 || opts.Snaplen > MaxCapLen {
		return nil, fmt.Errorf("pcapio: NewWriter: snaplen %d out of range [1, %d] (0 for the default)", opts.Snaplen, MaxCapLen)
	}
	if uint32(link) > 0xffff {
		return nil, fmt.Errorf("pcapio: NewWriter: link type %d does not fit the 16-bit pcap field", uint32(link))
	}
	wr := &Writer{w: bufio.NewWriterSize(w, 64<<10), link: link, nano: opts.Nanosecond, snaplen: opts.Snaplen}
	if wr.snaplen == 0 {
		wr.snaplen = DefaultSnaplen
	}
	var h [24]byte
	magic := uint32(magicMicro)
	if wr.nano {
		magic = magicNano
	}
	le := binary.LittleEndian
	le.PutUint32(h[0:], magic)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], uint32(wr.snaplen))
	le.PutUint32(h[20:], uint32(link))
	if _, err := wr.w.Write(h[:]); err != nil {
		return nil, err
	}
	return wr, nil
}

// LinkType returns the link type written in the file header.
func (w *Writer) LinkType() t2t.LinkType { return w.link }

// WritePacket writes one packet captured at ts whose on-the-wire length is
// len(data). It rejects, saying why, a zero timestamp, a time before 1970
// or past 2106, empty data and data longer than the snaplen.
func (w *Writer) WritePacket(ts time.Time, data []byte) error {
	return w.write(ts, data, len(data))
}

// Write writes p, keeping its OrigLen (which must be at least len(p.Data)).
// p.Link must be the Writer's link type.
func (w *Writer) Write(p Packet) error {
	if p.Link != w.link {
		return fmt.Errorf("pcapio: packet %d: link type %v differs from the file's %v", w.n, p.Link, w.link)
	}
	return w.write(p.Time, p.Data, p.OrigLen)
}

func (w *Writer) write(ts time.Time, data []byte, orig int) error {
	if w.err != nil {
		return w.err
	}
	if ts.IsZero() {
		return fmt.Errorf("pcapio: packet %d: %w", w.n, ErrNoTimestamp)
	}
	sec := ts.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return fmt.Errorf("pcapio: packet %d: timestamp %v is outside the pcap range 1970-2106", w.n, ts.UTC())
	}
	if len(data) == 0 {
		return fmt.Errorf("pcapio: packet %d: no data", w.n)
	}
	if len(data) > w.snaplen {
		return fmt.Errorf("pcapio: packet %d: %d bytes exceed snaplen %d", w.n, len(data), w.snaplen)
	}
	if orig < len(data) || orig > math.MaxUint32 {
		return fmt.Errorf("pcapio: packet %d: original length %d is less than the %d captured bytes", w.n, orig, len(data))
	}
	frac := ts.Nanosecond()
	if !w.nano {
		frac /= 1000
	}
	le := binary.LittleEndian
	le.PutUint32(w.hdr[0:], uint32(sec))
	le.PutUint32(w.hdr[4:], uint32(frac))
	le.PutUint32(w.hdr[8:], uint32(len(data)))
	le.PutUint32(w.hdr[12:], uint32(orig))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(data); err != nil {
		w.err = err
		return err
	}
	w.n++
	return nil
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}

// WriteFile writes packets, all of link type link, to a new pcap file at
// path (created or truncated): the one way t2t writes a whole capture.
// Every error names the path.
func WriteFile(path string, link t2t.LinkType, packets []Packet, opts WriterOptions) error {
	f, err := os.Create(path)
	if err != nil {
		return err // *fs.PathError: names the path
	}
	if err := writeAll(f, link, packets, opts); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// writeAll writes a pcap of packets to w and flushes it.
func writeAll(w io.Writer, link t2t.LinkType, packets []Packet, opts WriterOptions) error {
	pw, err := NewWriter(w, link, opts)
	if err != nil {
		return err
	}
	for _, p := range packets {
		if err := pw.Write(p); err != nil {
			return err
		}
	}
	return pw.Flush()
}
