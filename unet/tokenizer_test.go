package unet

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestVocabIDs(t *testing.T) {
	v := NewVocab("type-3", "SSH", "rtp_video", "ssh", "udp")
	want := []string{"<null>", "<unk>", "type-3", "ssh", "rtp_video", "udp"}
	if got := v.Tokens(); !slices.Equal(got, want) {
		t.Fatalf("tokens %v, want %v", got, want)
	}
	if v.Len() != len(want) {
		t.Errorf("Len %d, want %d", v.Len(), len(want))
	}
	for id, tok := range want {
		if got, ok := v.ID(tok); !ok || got != id {
			t.Errorf("ID(%q) = %d, %v; want %d", tok, got, ok, id)
		}
		if got := v.Token(id); got != tok {
			t.Errorf("Token(%d) = %q, want %q", id, got, tok)
		}
	}
	if _, ok := v.ID("dns"); ok {
		t.Error("ID of an unknown token")
	}
	// The same tokens in the same order give the same ids.
	if !slices.Equal(NewVocab("type-3", "SSH", "rtp_video", "ssh", "udp").Tokens(), want) {
		t.Error("ids depend on more than insertion order")
	}
}

func TestVocabAdd(t *testing.T) {
	v := NewVocab("ssh", "dns")
	before := v.Tokens()
	if id, added := v.Add("quic"); id != 4 || !added {
		t.Errorf("Add(quic) = %d, %v; want 4, true", id, added)
	}
	if id, added := v.Add("DNS"); id != 3 || added {
		t.Errorf("Add(DNS) = %d, %v; want 3, false", id, added)
	}
	if id, added := v.Add(NullToken); id != NullID || added {
		t.Errorf("Add(<null>) = %d, %v", id, added)
	}
	if got := v.Tokens(); !slices.Equal(got[:len(before)], before) {
		t.Errorf("adding changed old ids: %v, was %v", got, before)
	}
	for _, bad := range []string{"", "a b", "a,b", "\t"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%q) did not panic", bad)
				}
			}()
			v.Add(bad)
		}()
	}
}

func TestVocabZero(t *testing.T) {
	var v Vocab
	if v.Len() != 2 || v.Token(0) != NullToken || v.Token(1) != UnkToken {
		t.Errorf("zero Vocab: %v", v.Tokens())
	}
	if id, ok := v.ID(UnkToken); !ok || id != UnkID {
		t.Errorf("zero Vocab: ID(<unk>) = %d, %v", id, ok)
	}
	if ids, err := v.Tokenize("", 3, false); err != nil || !slices.Equal(ids, NullPrompt(3)) {
		t.Errorf("zero Vocab: Tokenize = %v, %v", ids, err)
	}
	if id, _ := v.Add("ssh"); id != 2 {
		t.Errorf("zero Vocab: Add gave id %d", id)
	}
}

func TestVocabJSON(t *testing.T) {
	v := NewVocab("type-3", "ssh", "rtp_video")
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil || !slices.Equal(list, v.Tokens()) {
		t.Errorf("JSON %s: %v, want the tokens in id order", b, err)
	}
	// Inside a config struct, by value and by pointer.
	type config struct {
		Vocab  *Vocab `json:"vocab"`
		Vocab2 Vocab  `json:"vocab2"`
	}
	b, err = json.Marshal(config{Vocab: v, Vocab2: *v})
	if err != nil {
		t.Fatal(err)
	}
	var c config
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, got := range []*Vocab{c.Vocab, &c.Vocab2} {
		if !slices.Equal(got.Tokens(), v.Tokens()) {
			t.Errorf("round trip: %v, want %v", got.Tokens(), v.Tokens())
		}
		if id, ok := got.ID("ssh"); !ok || id != 3 {
			t.Errorf("round trip: ID(ssh) = %d, %v", id, ok)
		}
		if id, _ := got.Add("new"); id != 5 {
			t.Errorf("round trip: Add gave id %d", id)
		}
	}
	for _, bad := range []string{
		`{}`, `[]`, `["<unk>","<null>"]`, `["<null>","<unk>","a","a"]`, `["<null>","<unk>","A"]`,
		`["<null>","<unk>","a b"]`, `["<null>","<unk>",""]`, `["<null>","<unk>","<null>"]`,
	} {
		var v Vocab
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("Unmarshal(%s): no error", bad)
		}
	}
}

func TestTokenize(t *testing.T) {
	v := NewVocab("type-3", "ssh", "rtp_video", "udp")
	for _, c := range []struct {
		prompt string
		n      int
		want   []int
	}{
		{"type-3", 3, []int{2, 0, 0}},
		{"ssh", 1, []int{3}},
		{"rtp_video", 2, []int{4, 0}},
		{"type-3 udp", 4, []int{2, 5, 0, 0}},
		{"  Type-3,UDP\t\n", 2, []int{2, 5}},
		{"ssh,,  ,ssh", 3, []int{3, 3, 0}},
		{"", 2, []int{0, 0}},
		{" , ", 2, []int{0, 0}},
		{"<null>", 1, []int{0}},
		{"", 0, []int{}},
	} {
		got, err := v.Tokenize(c.prompt, c.n, false)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q, %d) = %v, %v; want %v", c.prompt, c.n, got, err, c.want)
		}
	}
	if got := NullPrompt(4); !slices.Equal(got, []int{0, 0, 0, 0}) {
		t.Errorf("NullPrompt(4) = %v", got)
	}
}

func TestTokenizeErrors(t *testing.T) {
	v := NewVocab("type-3", "ssh", "rtp_video", "udp")
	_, err := v.Tokenize("ssh dns", 4, false)
	if !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("got %v, want ErrUnknownToken", err)
	}
	for _, s := range []string{`"dns"`, `"ssh dns"`, "type-3", "rtp_video"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %s", err, s)
		}
	}
	if ids, err := v.Tokenize("ssh DNS", 3, true); err != nil || !slices.Equal(ids, []int{3, UnkID, 0}) {
		t.Errorf("allowUnknown: got %v, %v", ids, err)
	}
	_, err = v.Tokenize("ssh udp type-3", 2, true)
	if !errors.Is(err, ErrPromptTooLong) || !strings.Contains(err.Error(), `"ssh udp type-3"`) || !strings.Contains(err.Error(), "3 tokens") {
		t.Errorf("got %v, want a too-long error naming the prompt", err)
	}
	// A long vocabulary is listed in part.
	big := NewVocab()
	for i := 0; i < 30; i++ {
		big.Add("type-" + strings.Repeat("x", i+1))
	}
	_, err = big.Tokenize("y", 1, false)
	if err == nil || !strings.Contains(err.Error(), "22 more") {
		t.Errorf("got %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Tokenize with n < 0 did not panic")
			}
		}()
		v.Tokenize("", -1, true)
	}()
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"type-3", "ssh", "rtp_video", "type-3 udp", "SSH,dns", " \t,", "İ ǅ ß", "\xff\xfe", "<unk> <null>"} {
		f.Add(s, 4, true)
	}
	f.Fuzz(func(t *testing.T, prompt string, n int, allowUnknown bool) {
		n = min(max(n, 0), 64)
		v := NewVocab("type-3", "ssh", "rtp_video", "udp", "ǆ")
		ids, err := v.Tokenize(prompt, n, allowUnknown)
		if err != nil {
			if !errors.Is(err, ErrUnknownToken) && !errors.Is(err, ErrPromptTooLong) {
				t.Fatalf("unexpected error %v", err)
			}
			if allowUnknown && errors.Is(err, ErrUnknownToken) {
				t.Fatalf("unknown token with allowUnknown: %v", err)
			}
			return
		}
		if len(ids) != n {
			t.Fatalf("%d ids, want %d", len(ids), n)
		}
		words := make([]string, len(ids))
		for i, id := range ids {
			if id < 0 || id >= v.Len() {
				t.Fatalf("id %d out of range", id)
			}
			words[i] = v.Token(id)
		}
		again, err := v.Tokenize(strings.Join(words, " "), n, false)
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("re-tokenizing %q: %v, %v; want %v", words, again, err, ids)
		}
		// Every word of a prompt can be added, and then the prompt tokenizes without <unk>.
		for _, w := range strings.FieldsFunc(prompt, isTokenSep) {
			v.Add(w)
		}
		ids, err = v.Tokenize(prompt, n, false)
		if err != nil || slices.Contains(ids, UnkID) && !strings.Contains(strings.ToLower(prompt), UnkToken) {
			t.Fatalf("after adding its words, %q gives %v, %v", prompt, ids, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var v2 Vocab
		if err := json.Unmarshal(b, &v2); err != nil || !slices.Equal(v2.Tokens(), v.Tokens()) {
			t.Fatalf("JSON round trip of %v: %v, %v", v.Tokens(), v2.Tokens(), err)
		}
	})
}
