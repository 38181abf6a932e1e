package injector

import (
	"github.com/miekg/dns"

	"github.com/dnsfault/dnsfault/scenarios"
)

// Serve hands one query to the pipeline as if it came over transport t:
// the in-process entry for tests, with a dnstest.Recorder as w.
func (s *Server) Serve(w dns.ResponseWriter, r *dns.Msg, t scenarios.Transport) {
	s.pipe.serve(w, r, t)
}
