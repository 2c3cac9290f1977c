package train

import (
	"errors"
	"slices"
	"t2t/unet"
	"testing"

	"t2t/pcapio"
)

// TestAddTransportPrompts: examples of the repo's training set get their
// flow's transport word (dns has TCP and UDP flows), a copy of each prompt
// with the word appended, and the originals stay.
func TestAddTransportPrompts(t *testing.T) {
	ds, err := pcapio.LoadDataset("../testdata/train", pcapio.FlowOptions{MaxPackets: 4})
	if err != nil {
		t.Fatal(err)
	}
	ds.Classes = []string{"dns", "ssh"}
	cfg := unet.Tiny()
	cfg.Rows = 4
	vocab := unet.NewVocab()
	prompts, err := ClassPrompts(ds.Classes, vocab, cfg.MaxTokens)
	if err != nil {
		t.Fatal(err)
	}
	ex, _, err := Examples(ds, cfg, prompts, 2)
	if err != nil {
		t.Fatal(err)
	}
	if unet.TrainedWithTransport(vocab) {
		t.Fatal("vocabulary has transport words before AddTransportPrompts")
	}
	if err := AddTransportPrompts(ex, vocab, cfg.MaxTokens); err != nil {
		t.Fatal(err)
	}
	if !unet.TrainedWithTransport(vocab) {
		t.Fatal("transport words not added")
	}
	seen := map[string]int{}
	for i, e := range ex {
		seen[e.Transport]++
		if len(e.Prompts) != 4 {
			t.Fatalf("example %d: %d prompts, want 4", i, len(e.Prompts))
		}
		want, _ := vocab.Tokenize(ds.Classes[0]+" "+e.Transport, cfg.MaxTokens, false)
		if i >= len(ds.Flows["dns"]) {
			want, _ = vocab.Tokenize("ssh "+e.Transport, cfg.MaxTokens, false)
		}
		if got := e.Prompts[2]; !slices.Equal(got, want) {
			t.Errorf("example %d (%s): prompt %v, want %v", i, e.Transport, got, want)
		}
	}
	if seen["tcp"] == 0 || seen["udp"] == 0 || seen[""] != 0 {
		t.Errorf("transports %v: want tcp and udp flows, none unknown", seen)
	}
	full := []Example{{Transport: "tcp", Prompts: [][]int{{5, 6, 7, 8}}}}
	if err := AddTransportPrompts(full, vocab, 4); err == nil {
		t.Error("full prompt: no error")
	}
	if _, err := vocab.Tokenize("dns tcp udp icmp ssh", 4, false); !errors.Is(err, unet.ErrPromptTooLong) {
		t.Errorf("long prompt: %v", err)
	}
}
