// Command refserver is make bench's reference: a bare miekg/dns server
// answering the benchmark's names from a map, with nothing else on the
// path. It measures the library's limit on this machine, against which
// dnsfault is compared.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"strings"

	"github.com/miekg/dns"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5300", "UDP and TCP address")
	names := flag.Int("names", 10000, "how many names nameN.bench.test to answer")
	flag.Parse()

	records := make(map[string]dns.RR, *names)
	for i := 0; i < *names; i++ {
		rr, err := dns.NewRR(fmt.Sprintf("name%d.bench.test. 60 IN A 192.0.2.%d", i, i%250+1))
		if err != nil {
			log.Fatal(err)
		}
		records[rr.Header().Name] = rr
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if rr, ok := records[strings.ToLower(r.Question[0].Name)]; ok && r.Question[0].Qtype == dns.TypeA {
			m.Answer = []dns.RR{rr}
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	// The same receive buffer as dnsfault asks for: as the upstream of
	// (e), bursts of forwarded queries overflow the default one.
	pc, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	pc.(*net.UDPConn).SetReadBuffer(4 << 20)
	errc := make(chan error, 2)
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Addr: *listen, Net: "tcp", Handler: handler}
	go func() { errc <- udp.ActivateAndServe() }()
	go func() { errc <- tcp.ListenAndServe() }()
	log.Fatal(<-errc)
}
