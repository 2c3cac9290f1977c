//go:build cuda || t2tcuda

package cuda

import (
	_ "embed"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"gorgonia.org/cu"

	"t2t/internal/prog"
)

// Built says whether this build holds the device code.
const Built = true

//go:embed kernels.ptx
var ptx string

var kernelNames = []string{"gemm", "groupnorm", "layernorm", "silu_k", "add", "addrows", "concat", "attention", "embed", "meanrows"}

// Device is a GPU holding a context, the kernels and the weights of the
// programs loaded on it. Its calls run on one OS thread, where its
// context is current; they may come from any goroutine, one at a time.
type Device struct {
	name    string
	work    chan func()
	ctx     cu.CUContext
	mod     cu.Module
	fn      map[string]cu.Function
	weights map[weightKey]cu.DevicePtr
}

// weightKey names a weight by its name and its host memory, so that two
// models with the same names do not share device copies.
type weightKey struct {
	name string
	data *float32
	n    int
}

// Open makes a context on GPU ordinal and loads the kernels.
func Open(ordinal int) (*Device, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("cuda: counting devices: %w", err)
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d of %d", ordinal, n)
	}
	d := &Device{work: make(chan func()), fn: map[string]cu.Function{}, weights: map[weightKey]cu.DevicePtr{}}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		ready <- d.start(ordinal)
		for f := range d.work {
			f()
		}
	}()
	if err := <-ready; err != nil {
		close(d.work)
		return nil, err
	}
	return d, nil
}

func (d *Device) start(ordinal int) error {
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	if d.name, err = dev.Name(); err != nil {
		return fmt.Errorf("cuda: device %d: name: %w", ordinal, err)
	}
	if d.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return fmt.Errorf("cuda: %s: context: %w", d.name, err)
	}
	if d.mod, err = cu.LoadData(ptx); err != nil {
		return fmt.Errorf("cuda: %s: loading kernels.ptx: %w", d.name, err)
	}
	for _, k := range kernelNames {
		f, err := d.mod.Function(k)
		if err != nil {
			return fmt.Errorf("cuda: kernel %s: %w", k, err)
		}
		d.fn[k] = f
	}
	return nil
}

// do runs f on the device's thread.
func (d *Device) do(f func() error) error {
	done := make(chan error)
	d.work <- func() { done <- f() }
	return <-done
}

// Name is the GPU's name.
func (d *Device) Name() string { return d.name }

// Close frees the weights and the context.
func (d *Device) Close() error {
	err := d.do(func() error {
		for _, p := range d.weights {
			cu.MemFree(p)
		}
		d.weights = nil
		d.mod.Unload()
		return d.ctx.Destroy()
	})
	close(d.work)
	return err
}

// Program is a program loaded on a device: its weights (shared with other
// programs of the same model) and buffers, planned so that a buffer's
// memory is reused once nothing reads it.
type Program struct {
	d    *Device
	p    *prog.Program
	slot []int          // buffer -> memory slot
	mem  []cu.DevicePtr // slot -> device memory
	w    []cu.DevicePtr // parameter -> device copy
	// vocab is the rows of the token table (0: the program embeds no
	// tokens), for checking ids before the embed kernel trusts them
	vocab int
}

// Load uploads a program's weights (once per weight and device) and
// allocates its buffers.
func (d *Device) Load(p *prog.Program) (*Program, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	lp := &Program{d: d, p: p}
	for _, o := range p.Ops {
		if o.Kind == prog.Embed {
			lp.vocab = len(p.Params[o.W].Data) / o.Out
			break
		}
	}
	err := d.do(func() error {
		for _, t := range p.Params {
			k := weightKey{t.Name, unsafe.SliceData(t.Data), len(t.Data)}
			ptr, ok := d.weights[k]
			if !ok {
				var err error
				if ptr, err = upload(t.Data); err != nil {
					return fmt.Errorf("cuda: weight %s: %w", t.Name, err)
				}
				d.weights[k] = ptr
			}
			lp.w = append(lp.w, ptr)
		}
		return lp.plan()
	})
	if err != nil {
		lp.free()
		return nil, err
	}
	return lp, nil
}

func upload(v []float32) (cu.DevicePtr, error) {
	ptr, err := cu.MemAlloc(int64(4 * max(len(v), 1)))
	if err != nil {
		return 0, err
	}
	if len(v) > 0 {
		if err := cu.MemcpyHtoD(ptr, unsafe.Pointer(&v[0]), int64(4*len(v))); err != nil {
			cu.MemFree(ptr)
			return 0, err
		}
	}
	return ptr, nil
}

// plan gives every buffer a slot: inputs their own, each operation's
// output the smallest free slot that holds it (a new one when none does),
// and frees an operand's slot after the last operation that reads it.
func (lp *Program) plan() error {
	p := lp.p
	last := p.LastUse()
	lp.slot = make([]int, len(p.Sizes))
	for i := range lp.slot {
		lp.slot[i] = -1
	}
	var size []int
	var free []int
	alloc := func(b int) {
		best := -1
		for i, s := range free {
			if size[s] >= p.Sizes[b] && (best < 0 || size[s] < size[free[best]]) {
				best = i
			}
		}
		if best >= 0 {
			lp.slot[b] = free[best]
			free = append(free[:best], free[best+1:]...)
			return
		}
		size = append(size, p.Sizes[b])
		lp.slot[b] = len(size) - 1
	}
	for _, b := range []int{p.X, p.Time, p.Tokens, p.Control} {
		if b != prog.None {
			alloc(b)
		}
	}
	for k, o := range p.Ops {
		alloc(o.Dst)
		for _, b := range []int{o.A, o.B, o.C, o.Dst} {
			if b != prog.None && last[b] <= k && b != p.Out && !contains(free, lp.slot[b]) {
				free = append(free, lp.slot[b])
			}
		}
	}
	for _, s := range size {
		ptr, err := cu.MemAlloc(int64(4 * s))
		if err != nil {
			return fmt.Errorf("cuda: %d buffers: %w", len(size), err)
		}
		lp.mem = append(lp.mem, ptr)
	}
	return nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (lp *Program) free() {
	for _, m := range lp.mem {
		cu.MemFree(m)
	}
	lp.mem = nil
}

// Close frees the program's buffers (its weights stay on the device).
func (lp *Program) Close() error {
	return lp.d.do(func() error { lp.free(); return nil })
}

func (lp *Program) buf(b int) cu.DevicePtr {
	if b == prog.None {
		return 0
	}
	return lp.mem[lp.slot[b]]
}

func (lp *Program) par(i int) cu.DevicePtr {
	if i == prog.None {
		return 0
	}
	return lp.w[i]
}

// args turns kernel arguments (device pointers, ints, float64s) into the
// 8-byte values cu's Launch copies.
func args(vs ...any) []unsafe.Pointer {
	out := make([]unsafe.Pointer, len(vs))
	for i, v := range vs {
		var u uint64
		switch x := v.(type) {
		case cu.DevicePtr:
			u = uint64(x)
		case int:
			u = uint64(int64(x))
		case float64:
			u = *(*uint64)(unsafe.Pointer(&x))
		case bool:
			if x {
				u = 1
			}
		default:
			panic(fmt.Sprintf("cuda: kernel argument of type %T", v))
		}
		cell := new(uint64)
		*cell = u
		out[i] = unsafe.Pointer(cell)
	}
	return out
}

func blocks(n, per int) int { return min((n+per-1)/per, 1<<24) }

// launch runs operation o.
func (lp *Program) launch(o prog.Op) error {
	fn := lp.d.fn
	var s cu.Stream
	dst, a, b, c := lp.buf(o.Dst), lp.buf(o.A), lp.buf(o.B), lp.buf(o.C)
	w, bias := lp.par(o.W), lp.par(o.Bias)
	switch o.Kind {
	case prog.Linear:
		return fn["gemm"].Launch(blocks(o.Out, 64), blocks(o.N, 64), 1, 256, 1, 1, 0, s, args(a, w, bias, dst, o.N, o.In, o.Out, 0, 0))
	case prog.Conv3:
		return fn["gemm"].Launch(blocks(o.Out, 64), blocks(o.N, 64), 1, 256, 1, 1, 0, s, args(a, w, bias, dst, o.N, 3*o.In, o.Out, o.L, o.In))
	case prog.GroupNorm:
		return fn["groupnorm"].Launch(o.N/o.L*o.Groups, 1, 1, 256, 1, 1, 0, s, args(a, w, bias, dst, o.L, o.In, o.Groups, o.Eps, o.Act))
	case prog.LayerNorm:
		return fn["layernorm"].Launch(o.N, 1, 1, 128, 1, 1, 0, s, args(a, w, bias, dst, o.In, o.Eps))
	case prog.SiLU:
		n := o.N * o.In
		return fn["silu_k"].Launch(blocks(n, 256), 1, 1, 256, 1, 1, 0, s, args(a, dst, n))
	case prog.Add:
		n := o.N * o.In
		return fn["add"].Launch(blocks(n, 256), 1, 1, 256, 1, 1, 0, s, args(a, b, dst, n, o.Scale))
	case prog.AddRows:
		n := o.N * o.In
		return fn["addrows"].Launch(blocks(n, 256), 1, 1, 256, 1, 1, 0, s, args(a, b, dst, n, o.L, o.In))
	case prog.Concat:
		n := o.N * (o.In + o.Out)
		return fn["concat"].Launch(blocks(n, 256), 1, 1, 256, 1, 1, 0, s, args(a, b, dst, n, o.In, o.Out))
	case prog.Attention:
		return fn["attention"].Launch(o.N, o.Heads, 1, 64, 1, 1, 4*o.Out, s, args(a, b, c, dst, o.L, o.In, o.Out, o.Heads, o.Scale))
	case prog.Embed:
		n := o.N * o.Out
		return fn["embed"].Launch(blocks(n, 256), 1, 1, 256, 1, 1, 0, s, args(a, w, dst, n, o.Out))
	case prog.MeanRows:
		n := o.N / o.L * o.In
		return fn["meanrows"].Launch(blocks(n, 256), 1, 1, 256, 1, 1, 0, s, args(a, dst, n, o.L, o.In))
	}
	return fmt.Errorf("cuda: no kernel for %v", o.Kind)
}

// setInputs copies the input buffers to the device.
func (lp *Program) setInputs(in [][]float32) error {
	p := lp.p
	if len(in) != len(p.Sizes) {
		return fmt.Errorf("cuda: %d buffers for a program of %d", len(in), len(p.Sizes))
	}
	for _, b := range []int{p.X, p.Time, p.Tokens, p.Control} {
		if b == prog.None {
			continue
		}
		if len(in[b]) != p.Sizes[b] {
			return fmt.Errorf("cuda: input buffer %d holds %d values, want %d", b, len(in[b]), p.Sizes[b])
		}
		if err := cu.MemcpyHtoD(lp.buf(b), unsafe.Pointer(&in[b][0]), int64(4*len(in[b]))); err != nil {
			return fmt.Errorf("cuda: input buffer %d: %w", b, err)
		}
	}
	if p.Tokens != prog.None && lp.vocab > 0 {
		// the embed kernel trusts its ids: check them here
		for _, id := range in[p.Tokens] {
			if id < 0 || int(id) >= lp.vocab || float32(int(id)) != id {
				return fmt.Errorf("cuda: token id %v outside the table of %d", id, lp.vocab)
			}
		}
	}
	return nil
}

func (lp *Program) forward(each func(k int) error) error {
	for k, o := range lp.p.Ops {
		if err := lp.launch(o); err != nil {
			return fmt.Errorf("cuda: op %d (%v): %w", k, o.Kind, err)
		}
		if each != nil {
			if err := each(k); err != nil {
				return err
			}
		}
	}
	return nil
}

func download(dst []float32, src cu.DevicePtr, n int) ([]float32, error) {
	dst = append(dst[:0], make([]float32, n)...)
	if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), src, int64(4*n)); err != nil {
		return nil, fmt.Errorf("cuda: reading the output: %w", err)
	}
	return dst, nil
}

// Run executes the program on inputs (indexed as the program's buffers;
// only its input buffers are read) and returns its output in out.
func (lp *Program) Run(in [][]float32, out []float32) ([]float32, error) {
	err := lp.d.do(func() error {
		if err := lp.setInputs(in); err != nil {
			return err
		}
		if err := lp.forward(nil); err != nil {
			return err
		}
		var err error
		out, err = download(out, lp.buf(lp.p.Out), lp.p.Sizes[lp.p.Out])
		return err
	})
	return out, err
}

// Profile runs the program once, waiting after every operation, and
// returns the seconds spent per kind of operation (the copies in and out
// not counted).
func (lp *Program) Profile(in [][]float32) (map[prog.Kind]float64, error) {
	res := map[prog.Kind]float64{}
	err := lp.d.do(func() error {
		if err := lp.setInputs(in); err != nil {
			return err
		}
		if err := cu.Synchronize(); err != nil {
			return err
		}
		t := time.Now()
		return lp.forward(func(k int) error {
			if err := cu.Synchronize(); err != nil {
				return fmt.Errorf("cuda: op %d (%v): %w", k, lp.p.Ops[k].Kind, err)
			}
			now := time.Now()
			res[lp.p.Ops[k].Kind] += now.Sub(t).Seconds()
			t = now
			return nil
		})
	})
	return res, err
}
