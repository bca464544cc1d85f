package route

import "testing"

func TestTableRoute(t *testing.T) {
	tb := NewTable("fallback")
	tb.AddPrefix("/pkg.", "short")
	tb.AddPrefix("/pkg.sub.", "long")
	tb.AddService("pkg.sub.Svc", "svc")
	tb.AddService("pkg.sub.Svc", "ignored") // the first route for a service wins
	for _, c := range []struct{ method, want string }{
		{"/pkg.sub.Svc/Call", "svc"},    // a service route beats any prefix
		{"/pkg.sub.Other/Call", "long"}, // the longest prefix wins, though added last
		{"/pkg.Other/Call", "short"},
		{"/elsewhere.Svc/Call", "fallback"},
		{"no-slash", "fallback"},
	} {
		got, ok := tb.Route(c.method)
		if !ok || got != c.want {
			t.Errorf("Route(%q) = %q, %v; want %q", c.method, got, ok, c.want)
		}
	}
}

func TestTableWithoutFallback(t *testing.T) {
	tb := NewTable("")
	tb.AddService("pkg.Svc", "svc")
	if got, ok := tb.Route("/other.Svc/Call"); ok {
		t.Fatalf("Route of an unmatched method = %q, true; want false", got)
	}
}
