package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"t2t"
)

// hexColumn is the column of nPrint's -C input that holds the packet
// (stringfile_parser.cpp: SFILE_HXP_LOC).
const hexColumn = 2

// splitRow splits a line of a -C file as nPrint does (std::getline on
// ','): a trailing empty column is dropped.
func splitRow(line string) []string {
	if line == "" {
		return nil
	}
	cols := strings.Split(line, ",")
	if cols[len(cols)-1] == "" {
		cols = cols[:len(cols)-1]
	}
	return cols
}

// encodeHexCSV is nPrint's -C: a CSV of hex packets to nPrint CSV. The
// header line's columns are copied in front of the bit columns and the
// first as many columns of each row in front of its bits, the hex packet
// among them, as nPrint does; the packet is the third column, an Ethernet
// frame when its ethertype says IPv4 or IPv6, else an IP packet. Rows
// whose packet is not hex are left out with a warning, as nPrint does;
// packets nPrint does not encode are skipped (nPrint stops reading the
// file at the first one).
func encodeHexCSV(c *config, out io.Writer, stderr io.Writer) error {
	f, err := os.Open(c.hex)
	if err != nil {
		return err
	}
	defer f.Close()
	e, err := newEncoder(c, out, stderr)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	readLine := func() (string, error) {
		s, err := br.ReadString('\n')
		if err == io.EOF && s != "" {
			err = nil
		}
		return strings.TrimRight(s, "\r\n"), err
	}
	head, err := readLine()
	if err == io.EOF {
		return fmt.Errorf("-C %s: empty file: no header line", c.hex)
	}
	if err != nil {
		return err
	}
	header := splitRow(head)
	if len(header) == 0 {
		return fmt.Errorf("-C %s:1: empty header line", c.hex)
	}
	e.w.KeyHeader = strings.Join(header, ",")
	badHex, firstBad := 0, ""
	var frame []byte
	for line, n := 1, 0; c.count == 0 || n < c.count; {
		s, err := readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		line++
		if s == "" {
			continue
		}
		cols := splitRow(s)
		if len(cols) <= hexColumn || len(cols) < len(header) {
			return fmt.Errorf("-C %s:%d: %d columns, want %d as the header has (and the hex packet in the third)", c.hex, line, len(cols), max(len(header), hexColumn+1))
		}
		frame, err = appendHex(frame[:0], cols[hexColumn])
		if err != nil {
			badHex++
			if firstBad == "" {
				firstBad = fmt.Sprintf("line %d: %v", line, err)
			}
			continue
		}
		n++
		link := t2t.LinkEthernet // nPrint's: Ethernet when the ethertype says IP, else IP
		if c.enc.VLAN && !ethernetIP(frame) {
			link = t2t.LinkRaw
		}
		key := []byte(strings.Join(cols[:len(header)], ","))
		if err := e.add(link, frame, time.Time{}, key); err != nil {
			return fmt.Errorf("-C %s:%d: %w", c.hex, line, err)
		}
	}
	if badHex > 0 {
		fmt.Fprintf(stderr, "nprint: warning: %s: %d rows whose third column is not a hex packet left out (first: %s)\n", c.hex, badHex, firstBad)
	}
	return e.finish()
}

// appendHex appends the bytes of the hex string s to dst.
func appendHex(dst []byte, s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return dst, errors.New("odd number of hex digits")
	}
	n := len(dst)
	dst = append(dst, make([]byte, len(s)/2)...)
	if _, err := hex.Decode(dst[n:], []byte(s)); err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// ethernetIP reports whether frame looks like an Ethernet frame: an
// ethertype of IPv4, IPv6 or a VLAN tag at bytes 12-13.
func ethernetIP(frame []byte) bool {
	if len(frame) < 14 {
		return false
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case t2t.EtherTypeIPv4, t2t.EtherTypeIPv6, t2t.EtherTypeVLAN, t2t.EtherTypeQinQ, t2t.EtherTypeQinQ2:
		return true
	}
	return false
}
