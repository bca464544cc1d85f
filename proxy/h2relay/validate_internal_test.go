package h2relay

import (
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// validValue and validName agree with the library's checks for every
// byte at every position of a word-sized scan, and its tail.
func TestFieldValidationMatchesHTTPGuts(t *testing.T) {
	for c := range 256 {
		for n := 1; n <= 17; n++ {
			for at := range n {
				b := []byte(strings.Repeat("a", n))
				b[at] = byte(c)
				s := string(b)
				if got, want := validValue(s), httpguts.ValidHeaderFieldValue(s); got != want {
					t.Fatalf("validValue(%q) = %v, want %v", s, got, want)
				}
				want := httpguts.ValidHeaderFieldName(s) && strings.ToLower(s) == s
				if got := validName(s); got != want {
					t.Fatalf("validName(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
	if validName("") || !validValue("") {
		t.Fatal("an empty name passed or an empty value failed")
	}
}

func BenchmarkCheckFields(b *testing.B) {
	fields := []hpackField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/helloworld.Greeter/SayHello"}, {Name: ":authority", Value: "127.0.0.1:19600"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "user-agent", Value: "grpc-go/1.56.2"},
		{Name: "te", Value: "trailers"}, {Name: "grpc-timeout", Value: "19999917u"},
	}
	for b.Loop() {
		if _, _, err := checkFields(fields, false); err != nil {
			b.Fatal(err)
		}
	}
}
