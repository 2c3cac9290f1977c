package models

import (
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	classes := strings.Split(m.Meta["classes"], ",")
	if len(classes) != 14 {
		t.Fatalf("embedded model knows %d classes: %v", len(classes), classes)
	}
	for _, c := range append(classes, "type-0", "type-13") {
		if _, ok := m.Vocab.ID(c); !ok {
			t.Errorf("prompt %q unknown to the embedded model", c)
		}
	}
	if m.UNet.Config.Name != "small" || m.UNet.Params.Count() < 1e6 {
		t.Errorf("embedded model %s with %d weights", m.UNet.Config.Name, m.UNet.Params.Count())
	}
}
