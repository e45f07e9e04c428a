package cursor

import "testing"

func TestRoundTripAndRejects(t *testing.T) {
	c := Encode("notifications", 42)
	if id, err := Decode("notifications", c); err != nil || id != 42 {
		t.Fatalf("round trip: %d %v", id, err)
	}
	edited := []byte(c)
	edited[3] ^= 1 // another base64url letter: the id changes, the checksum does not
	cases := []struct{ name, kind, s string }{
		{"other list", "notifications:unread", c},
		{"edited", "notifications", string(edited)},
		{"truncated", "notifications", c[:len(c)-2]},
		{"not base64", "notifications", "no!"},
		{"plain id", "notifications", "42"},
		{"empty", "notifications", ""},
	}
	for _, tc := range cases {
		if _, err := Decode(tc.kind, tc.s); err == nil {
			t.Errorf("%s: %q accepted", tc.name, tc.s)
		}
	}
}

// FuzzDecode: any text a client sends as a cursor is refused or opened,
// never a panic, and what opens is a cursor Encode made for that list.
func FuzzDecode(f *testing.F) {
	f.Add("tickets", Encode("tickets", 42))
	f.Add("tickets", "")
	f.Add("notifications", "AAAAAAAAAAEAAAAA")
	f.Add("tickets", "%%%'; DROP TABLE tickets;--")
	f.Fuzz(func(t *testing.T, kind, s string) {
		id, err := Decode(kind, s)
		if err != nil {
			if id != 0 {
				t.Fatalf("refused %q but returned id %d", s, id)
			}
			return
		}
		if id <= 0 || Encode(kind, id) != s {
			t.Fatalf("opened %q as id %d, which Encode writes as %q", s, id, Encode(kind, id))
		}
	})
}
