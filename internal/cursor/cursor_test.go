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
