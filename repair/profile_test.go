package repair

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestProfileRealPortsAndRoundTrip(t *testing.T) {
	prof := BuildProfile(committed(t))
	if err := prof.Validate(); err != nil {
		t.Fatal(err)
	}
	for class, port := range map[string]int{"dns": 53, "http": 80, "ntp": 123, "redis": 6379, "sip": 5060, "ssh": 22} {
		if v, ok := mode(prof.Classes[class].ServerPorts); !ok || v != port {
			t.Errorf("%s: most frequent server port %d, want %d", class, v, port)
		}
	}
	if prof.Classes["icmp"].Transport["icmp"] == 0 || len(prof.Classes["http"].SYN) == 0 {
		t.Errorf("icmp transport or http SYN templates missing")
	}
	data, err := json.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseProfile(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if !bytes.Equal(data, again) || !reflect.DeepEqual(prof.Classes["http"].IAT, back.Classes["http"].IAT) ||
		!reflect.DeepEqual(prof.Classes["dns"].ServerPorts, back.Classes["dns"].ServerPorts) {
		t.Errorf("profile changed through JSON")
	}
	bad := *back.Classes["http"]
	bad.SYN = []Template{{Options: "0203", N: 1}}
	back.Classes["http"] = &bad
	if back.Validate() == nil {
		t.Errorf("malformed option template accepted")
	}
}

func TestDeterminism(t *testing.T) {
	flows := committed(t)
	prof := BuildProfile(flows)
	f := flows["http"][0]
	run := func(seed int64) *Result {
		m := encode(t, f)
		flip(0.05)(m, newRand(7), nil)
		m.Times = nil
		res, err := Flow(m, "http", prof, Options{Payload: PayloadRandom}, newRand(seed))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, c := run(1), run(1), run(2)
	same := func(x, y *Result) bool {
		if len(x.Packets) != len(y.Packets) {
			return false
		}
		for i := range x.Packets {
			if !bytes.Equal(x.Packets[i].Data, y.Packets[i].Data) || !x.Packets[i].Time.Equal(y.Packets[i].Time) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Errorf("same seed, different packets")
	}
	if same(a, c) {
		t.Errorf("different seeds, same packets (times and payload should differ)")
	}
}
