package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"t2t/pipeline"
)

// Command is what every example program shares: its name, one line saying
// what it does, and an example command line. Its FlagSet prints the same
// usage in every program, and Main exits the same way in every program:
// 0 after -h, 2 on a bad command line, 1 on any other error.
type Command struct {
	Name    string   // program name, e.g. "generate"
	Does    string   // one line: what the program does
	Example []string // example command lines, without the program name
}

// FlagSet returns a flag set that reports errors (ContinueOnError),
// writes to stderr, and prints the command's usage: a usage line, what it
// does, examples and every flag with its default.
func (c Command) FlagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { c.PrintUsage(fs) }
	return fs
}

// PrintUsage writes the command's usage to fs's output.
func (c Command) PrintUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: %s [flags]\n\n%s\n", c.Name, c.Does)
	if len(c.Example) > 0 {
		fmt.Fprintf(w, "\nexample:\n")
		for _, e := range c.Example {
			fmt.Fprintf(w, "  %s %s\n", c.Name, e)
		}
	}
	fmt.Fprintf(w, "\nflags:\n")
	fs.PrintDefaults()
}

// Parse parses args with fs and rejects arguments left over: every
// program takes flags only.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q (every input is a flag; see -h)", fs.Arg(0))
	}
	return nil
}

// UsageError is an error in the command line (a bad flag value, a missing
// flag): Main exits 2 on it, as on an unknown flag.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message; name the flag in
// it ("-n 0: want 1 or more").
func Usagef(format string, a ...any) error {
	return &UsageError{fmt.Errorf(format, a...)}
}

// ExitCode is the exit status for the error run returned: 0 for none and
// for flag.ErrHelp (-h asked for the usage, which was printed), 2 for an
// error in the command line, 1 for any other.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue), isFlagError(err):
		return 2
	}
	return 1
}

// isFlagError reports whether err is one the flag package returns for a
// bad command line (it has printed the usage already).
func isFlagError(err error) bool {
	s := err.Error()
	for _, p := range []string{"flag provided but not defined", "invalid value", "invalid boolean", "bad flag syntax", "flag needs an argument"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// Main ends a program with run's error: prints "name: err" on stderr for
// any error other than flag.ErrHelp and exits with ExitCode.
func Main(name string, err error) {
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	os.Exit(ExitCode(err))
}

// Positive returns a UsageError naming the flag when v < 1.
func Positive(flag string, v int) error {
	if v < 1 {
		return Usagef("%s %d: want 1 or more", flag, v)
	}
	return nil
}

// NonNegative returns a UsageError naming the flag when v < 0.
func NonNegative(flag string, v int) error {
	if v < 0 {
		return Usagef("%s %d: want 0 or more", flag, v)
	}
	return nil
}

// InFile checks, before any work, that path names a readable file (not a
// folder); the error names the flag.
func InFile(flag, path string) error {
	if path == "" {
		return Usagef("%s is required", flag)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%s %s: is a folder, want a file", flag, path)
	}
	return nil
}

// InDir checks, before any work, that path names a folder; the error
// names the flag.
func InDir(flag, path string) error {
	if path == "" {
		return Usagef("%s is required", flag)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, unwrapPath(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s: is a file, want a folder", flag, path)
	}
	return nil
}

// OutFile checks, before any work, that a file can be written at path:
// its folder exists and takes new files, and path is not a folder. It
// writes nothing at path ("-", standard output, always passes).
func OutFile(flag, path string) error {
	if path == "-" {
		return nil
	}
	if path == "" {
		return Usagef("%s is required", flag)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s %s: is a folder, want a file", flag, path)
	}
	return writable(flag, filepath.Dir(path))
}

// OutDir makes the folder path (and its parents) when absent and checks
// that it takes new files, before any work; the error names the flag.
func OutDir(flag, path string) error {
	if path == "" {
		return Usagef("%s is required", flag)
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return fmt.Errorf("%s %s: is a file, want a folder", flag, path)
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, unwrapPath(err))
	}
	return writable(flag, path)
}

// writable checks that dir takes a new file by making and removing one.
func writable(flag, dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: folder %s: %w", flag, dir, unwrapPath(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %s is not a folder", flag, dir)
	}
	f, err := os.CreateTemp(dir, ".t2t-write-check-*")
	if err != nil {
		return fmt.Errorf("%s: folder %s takes no new files: %w", flag, dir, unwrapPath(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// unwrapPath drops the *PathError's own path and operation, which the
// caller's message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Adapters checks, before any work, that every -lora file[:weight] names a
// readable file and a valid weight.
func Adapters(specs []string) error {
	for _, spec := range specs {
		path, _, err := pipeline.ParseAdapterSpec(spec)
		if err != nil {
			return &UsageError{fmt.Errorf("-lora: %w", err)}
		}
		if err := InFile("-lora", path); err != nil {
			return err
		}
	}
	return nil
}

// Model checks, before any work, a -model flag: empty (the embedded
// model) or a folder.
func Model(dir string) error {
	if dir == "" {
		return nil
	}
	return InDir("-model", dir)
}

// First returns the first error that is not nil: checks of several flags
// in one statement. Every check runs; keep those that make folders
// (OutDir) for last, in a call of their own.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// PositiveFloat returns a UsageError naming the flag unless v is a finite
// number above 0.
func PositiveFloat(flag string, v float64) error {
	if !(v > 0) || Finite(flag, v) != nil {
		return Usagef("%s %g: want a finite number above 0", flag, v)
	}
	return nil
}

// SameFile reports whether the paths a and b name the same file: the same
// path, or, when both exist, the same file under two names (an output
// that would overwrite an input).
func SameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// Special says whether path is a file that must be written in place, not
// through a temporary file renamed over it: a device, a pipe or a socket
// (/dev/null, /dev/stdout, a FIFO). Renaming over it would replace it, and
// as root renaming over /dev/null leaves a plain file in its place.
func Special(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.Mode().IsRegular() && !st.IsDir()
}
