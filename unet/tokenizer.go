package unet

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Special tokens: NullToken (id NullID) pads prompts and is the whole of the empty prompt used
// for classifier-free guidance; UnkToken (id UnkID) stands for a word the vocabulary lacks.
const (
	NullToken = "<null>"
	UnkToken  = "<unk>"
	NullID    = 0
	UnkID     = 1
)

// ErrUnknownToken is wrapped by the error Tokenize returns for a word not in the vocabulary.
var ErrUnknownToken = errors.New("unet: unknown token")

// ErrPromptTooLong is wrapped by the error Tokenize returns for a prompt of too many tokens.
var ErrPromptTooLong = errors.New("unet: prompt too long")

// Vocab maps prompt tokens to ids. Id 0 is the padding/null token "<null>" (the empty prompt,
// used for classifier-free guidance); id 1 is "<unk>" for unknown words; the others get ids in
// the order they are added, so adding tokens later (new classes for LoRA) keeps the old ids.
//
// Tokens are lower case and contain no white space or commas, as Tokenize produces them. A
// Vocab marshals to JSON as its list of tokens in id order. The zero Vocab holds the two
// special tokens.
type Vocab struct {
	tokens []string       // by id; nil in the zero Vocab
	ids    map[string]int // token → id
}

// NewVocab returns a vocabulary of the special tokens followed by tokens, which Add normalises;
// repeated tokens are added once.
func NewVocab(tokens ...string) *Vocab {
	v := &Vocab{}
	for _, t := range tokens {
		v.Add(t)
	}
	return v
}

func (v *Vocab) init() {
	if v.tokens == nil {
		v.tokens = []string{NullToken, UnkToken}
		v.ids = map[string]int{NullToken: NullID, UnkToken: UnkID}
	}
}

// NormalizeToken returns token lower-cased, the form in which Tokenize looks it up, and an
// error if it is empty, contains white space, a comma, a control character or a path
// separator ('/', '\\'), or starts with a dot: class names are tokens, and they name files
// (<class>.pcap), so a token from a shared file must not lead outside a folder.
func NormalizeToken(token string) (string, error) {
	t := strings.ToLower(token)
	switch {
	case t == "":
		return "", errors.New("unet: empty token")
	case strings.IndexFunc(t, isTokenSep) >= 0:
		return "", fmt.Errorf("unet: token %q contains white space or a comma", token)
	case strings.IndexFunc(t, unicode.IsControl) >= 0 || strings.ContainsAny(t, `/\`) || t[0] == '.':
		return "", fmt.Errorf("unet: token %q contains a path separator or a control character, or starts with a dot", token)
	}
	return t, nil
}

// ClassToken returns the prompt word of a class name (NormalizeToken) and
// an error if the name cannot be a class of its own: a special token, or
// the form type-<i> of the aliases t2t gives a model's classes, would merge
// with another word silently. (A class may be named like a TransportWord
// when its flows carry that transport, as the icmp class of testdata/train
// does: train.AddTransportPrompts checks it.)
func ClassToken(class string) (string, error) {
	t, err := NormalizeToken(class)
	if err != nil {
		return "", err
	}
	if t == NullToken || t == UnkToken {
		return "", fmt.Errorf("unet: class %q is a special prompt token", class)
	}
	if n, ok := strings.CutPrefix(t, "type-"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		return "", fmt.Errorf("unet: class %q has the form of an alias type-<i>, which t2t gives the classes of a model", class)
	}
	return t, nil
}

func isTokenSep(r rune) bool { return r == ',' || unicode.IsSpace(r) }

// Add adds token, lower-cased, and returns its id; added is false if it was already there.
// Add panics if token is empty or contains white space or a comma: Tokenize could never
// produce it.
func (v *Vocab) Add(token string) (id int, added bool) {
	t, err := NormalizeToken(token)
	if err != nil {
		panic(err)
	}
	v.init()
	if id, ok := v.ids[t]; ok {
		return id, false
	}
	v.tokens = append(v.tokens, t)
	v.ids[t] = len(v.tokens) - 1
	return len(v.tokens) - 1, true
}

// ID returns the id of token, which is looked up as it is (not lower-cased).
func (v *Vocab) ID(token string) (int, bool) {
	if v.tokens == nil {
		switch token {
		case NullToken:
			return NullID, true
		case UnkToken:
			return UnkID, true
		}
		return 0, false
	}
	id, ok := v.ids[token]
	return id, ok
}

// Token returns the token of id; it panics if id is not in [0, Len()).
func (v *Vocab) Token(id int) string {
	if id < 0 || id >= v.Len() {
		panic(fmt.Sprintf("unet: token id %d out of range [0, %d)", id, v.Len()))
	}
	if v.tokens == nil {
		return [...]string{NullToken, UnkToken}[id]
	}
	return v.tokens[id]
}

// Len is the number of tokens, the special ones included.
func (v *Vocab) Len() int {
	if v.tokens == nil {
		return 2
	}
	return len(v.tokens)
}

// Tokens returns a copy of the tokens in id order.
func (v *Vocab) Tokens() []string {
	if v.tokens == nil {
		return []string{NullToken, UnkToken}
	}
	return append([]string(nil), v.tokens...)
}

// MarshalJSON writes the tokens in id order: ["<null>","<unk>","ssh",...].
// It has a value receiver so that a Vocab field of a config marshals the same as a *Vocab.
func (v Vocab) MarshalJSON() ([]byte, error) {
	return json.Marshal(v.Tokens())
}

// UnmarshalJSON reads what MarshalJSON writes; it checks the special tokens come first and
// the others are normalised and distinct.
func (v *Vocab) UnmarshalJSON(b []byte) error {
	var tokens []string
	if err := json.Unmarshal(b, &tokens); err != nil {
		return fmt.Errorf("unet: vocab: %w", err)
	}
	if len(tokens) < 2 || tokens[NullID] != NullToken || tokens[UnkID] != UnkToken {
		return fmt.Errorf("unet: vocab: must start with %q, %q", NullToken, UnkToken)
	}
	ids := make(map[string]int, len(tokens))
	for id, t := range tokens {
		if id > UnkID {
			n, err := NormalizeToken(t)
			if err != nil {
				return fmt.Errorf("unet: vocab: token %d: %w", id, err)
			}
			if n != t {
				return fmt.Errorf("unet: vocab: token %d %q is not lower case", id, t)
			}
		}
		if prev, ok := ids[t]; ok {
			return fmt.Errorf("unet: vocab: token %q has ids %d and %d", t, prev, id)
		}
		ids[t] = id
	}
	v.tokens, v.ids = tokens, ids
	return nil
}

// Tokenize splits a prompt into tokens and returns exactly n ids, padded with NullID. It
// lower-cases the prompt and splits it on white space and commas; '-' and '_' stay inside
// tokens ("type-3" is one token). More than n tokens is an error wrapping ErrPromptTooLong.
// An unknown token is an error wrapping ErrUnknownToken, unless allowUnknown, in which case
// it maps to UnkID. Tokenize panics if n < 0.
func (v *Vocab) Tokenize(prompt string, n int, allowUnknown bool) ([]int, error) {
	if n < 0 {
		panic(fmt.Sprintf("unet: Tokenize: negative length %d", n))
	}
	words := strings.FieldsFunc(strings.ToLower(prompt), isTokenSep)
	if len(words) > n {
		return nil, fmt.Errorf("%w: prompt %q has %d tokens, the model takes at most %d", ErrPromptTooLong, prompt, len(words), n)
	}
	ids := make([]int, n)
	for i, w := range words {
		id, ok := v.ID(w)
		if !ok {
			if !allowUnknown {
				return nil, fmt.Errorf("%w %q in prompt %q (known tokens: %s)", ErrUnknownToken, w, prompt, v.someTokens(8))
			}
			id = UnkID
		}
		ids[i] = id
	}
	return ids, nil
}

// someTokens lists up to k of the ordinary tokens for an error message.
func (v *Vocab) someTokens(k int) string {
	tokens := v.Tokens()[UnkID+1:]
	if len(tokens) == 0 {
		return "none"
	}
	s := strings.Join(tokens[:min(k, len(tokens))], ", ")
	if len(tokens) > k {
		s += fmt.Sprintf(", ... %d more", len(tokens)-k)
	}
	return s
}

// NullPrompt returns n NullIDs: the empty prompt.
func NullPrompt(n int) []int {
	return make([]int, n)
}
