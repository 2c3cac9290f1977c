package pcapio

import (
	"errors"
	"fmt"

	"t2t"
)

// Matrix encodes the first rows packets of the flow over layout with the
// encoding models are trained on (t2t.ModelEncoderOptions: VLAN tags looked
// through, IPv6 payload encoded); packets nPrint skips are left out.
func (f *Flow) Matrix(layout *t2t.Layout, rows int) (*t2t.Matrix, error) {
	enc := t2t.NewEncoder(layout, t2t.ModelEncoderOptions())
	m := t2t.NewMatrix(layout, 0)
	for _, p := range f.Packets {
		if m.Rows == rows {
			break
		}
		if _, err := enc.Append(m, p.Link, p.Data, p.Time); err != nil && !errors.Is(err, t2t.ErrSkip) {
			return nil, fmt.Errorf("pcapio: flow %v: packet at offset %d: %w", f.Key, p.Offset, err)
		}
	}
	return m, nil
}
