//go:build !cuda && !t2tcuda

package cuda

import "t2t/internal/prog"

// Built says whether this build holds the device code.
const Built = false

// Device is a GPU holding a context, the kernels and the weights of the
// programs loaded on it.
type Device struct{}

// Open returns GPU ordinal; this build has no device code.
func Open(ordinal int) (*Device, error) { return nil, ErrUnavailable }

// Name is the GPU's name.
func (d *Device) Name() string { return "" }

// Close releases the device.
func (d *Device) Close() error { return ErrUnavailable }

// Load uploads a program's weights and plans its buffers.
func (d *Device) Load(p *prog.Program) (*Program, error) { return nil, ErrUnavailable }

// Program is a program loaded on a device.
type Program struct{}

// Run executes the program on inputs (indexed as the program's buffers)
// and returns its output in out.
func (p *Program) Run(in [][]float32, out []float32) ([]float32, error) { return nil, ErrUnavailable }

// Profile runs the program once, waiting after every operation, and
// returns the seconds spent per kind of operation (the copies in and out
// not counted).
func (p *Program) Profile(in [][]float32) (map[prog.Kind]float64, error) { return nil, ErrUnavailable }

// Close frees the program's buffers (its weights stay on the device).
func (p *Program) Close() error { return ErrUnavailable }
