//go:build !cuda && !t2tcuda

package cuda

import (
	"errors"
	"testing"
)

func TestUnavailable(t *testing.T) {
	if _, err := Open(0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open without the device code: %v", err)
	}
}
