package dnsfaulttest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"testing"

	"github.com/dnsfault/dnsfault/injector/dnsfaulttest"
)

// A scenario written inline: one name answers, another does not exist.
func Example() {
	dns, err := dnsfaulttest.New(`
version: 1
zones: [{origin: shop.test., records: ["api.shop.test. 60 IN A 192.0.2.80"]}]
rules: [{name: payments-gone, match: {names: [payments.shop.test]}, action: nxdomain}]
`)
	if err != nil {
		log.Fatal(err)
	}
	defer dns.Close()
	ctx := context.Background()

	addrs, err := dns.Resolver.LookupHost(ctx, "api.shop.test")
	fmt.Println(addrs, err)

	_, err = dns.Resolver.LookupHost(ctx, "payments.shop.test")
	var notFound *net.DNSError
	fmt.Println(errors.As(err, &notFound) && notFound.IsNotFound, dns.Hits("payments-gone") > 0)
	// Output:
	// [192.0.2.80] <nil>
	// true true
}

// A bundled scenario by name, with a fake upstream standing in for the
// real resolver: AAAA fails while A works.
func Example_bundled() {
	upstream, err := dnsfaulttest.New(`
version: 1
zones: [{origin: example.test., records: ["www.example.test. 60 IN A 192.0.2.7", "www.example.test. 60 IN AAAA 2001:db8::7"]}]
`)
	if err != nil {
		log.Fatal(err)
	}
	defer upstream.Close()
	dns, err := dnsfaulttest.New("ipv6-broken", dnsfaulttest.WithUpstream(upstream.Addr))
	if err != nil {
		log.Fatal(err)
	}
	defer dns.Close()
	ctx := context.Background()

	v4, err := dns.Resolver.LookupIP(ctx, "ip4", "www.example.test")
	fmt.Println(v4, err)
	_, err = dns.Resolver.LookupIP(ctx, "ip6", "www.example.test")
	var dnsErr *net.DNSError
	fmt.Println(errors.As(err, &dnsErr) && dnsErr.IsTemporary)
	// Output:
	// [192.0.2.7] <nil>
	// true
}

// Phases can be jumped to, and faults aborted, from the test.
func ExampleServer_JumpTo() {
	dns, err := dnsfaulttest.New(`
version: 1
zones: [{origin: shop.test., records: ["db.shop.test. 60 IN A 192.0.2.5"]}]
phases:
  - name: healthy
    duration: 1h
  - name: outage
    rules: [{match: {names: [db.shop.test]}, action: servfail}]
`)
	if err != nil {
		log.Fatal(err)
	}
	defer dns.Close()
	lookup := func() string {
		addrs, err := dns.Resolver.LookupHost(context.Background(), "db.shop.test")
		if err != nil {
			return "fails"
		}
		return fmt.Sprint(addrs)
	}

	fmt.Println(dns.Status().Phase, lookup())
	dns.JumpTo("outage")
	fmt.Println(dns.Status().Phase, lookup())
	dns.Abort()
	fmt.Println("aborted", lookup())
	// Output:
	// healthy [192.0.2.5]
	// outage fails
	// aborted [192.0.2.5]
}

func TestStartStopsWithTheTest(t *testing.T) {
	var addr string
	t.Run("inner", func(t *testing.T) {
		addr = dnsfaulttest.Start(t, "demo").Addr
	})
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		conn.Close()
		t.Fatal("the server still listens after its test ended")
	}
}

func TestBadScenarioFailsNew(t *testing.T) {
	_, err := dnsfaulttest.New("version: 1\nrules: [{action: nxdomian}]\n")
	if err == nil || err.Error() != `inline.yaml:2:18: unknown action "nxdomian" (did you mean "nxdomain"?)` {
		t.Fatalf("got %v", err)
	}
}
