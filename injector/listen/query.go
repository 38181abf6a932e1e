package listen

import (
	"encoding/binary"

	"github.com/miekg/dns"
)

// ParseQuery reads one DNS message as miekg/dns's server does, for the
// listeners that read their own (UDP in batches, TCP): nothing comes back
// for what is not a DNS query (req and reject nil), FORMERR for what is
// malformed, NOTIMP for an opcode we do not serve (reject).
func ParseQuery(b []byte) (req, reject *dns.Msg) {
	const headerSize = 12
	if len(b) < headerSize {
		return nil, nil
	}
	h := dns.Header{Id: binary.BigEndian.Uint16(b), Bits: binary.BigEndian.Uint16(b[2:]),
		Qdcount: binary.BigEndian.Uint16(b[4:]), Ancount: binary.BigEndian.Uint16(b[6:]),
		Nscount: binary.BigEndian.Uint16(b[8:]), Arcount: binary.BigEndian.Uint16(b[10:])}
	action := dns.DefaultMsgAcceptFunc(h)
	req = new(dns.Msg)
	switch action {
	case dns.MsgIgnore:
		return nil, nil
	case dns.MsgAccept:
		if req.Unpack(b) == nil {
			return req, nil
		}
		action = dns.MsgReject
	}
	// The reply keeps what a client matches it by, as an authority's does:
	// the question and EDNS when the query could be read, never the
	// query's other bits (AD, say).
	query := new(dns.Msg)
	whole := query.Unpack(b) == nil
	if !whole {
		query = new(dns.Msg)
		query.Unpack(b[:headerSize]) // the header alone always unpacks
	}
	reject = &dns.Msg{MsgHdr: dns.MsgHdr{Id: h.Id, Response: true, Opcode: query.Opcode, Rcode: dns.RcodeFormatError,
		RecursionDesired: query.RecursionDesired, CheckingDisabled: query.CheckingDisabled}}
	if action == dns.MsgRejectNotImplemented {
		reject.Rcode = dns.RcodeNotImplemented
	}
	if whole && len(query.Question) == 1 {
		reject.Question = query.Question
	}
	if opt := query.IsEdns0(); whole && opt != nil {
		reject.SetEdns0(ednsSize, opt.Do())
	}
	return nil, reject
}

// ednsSize is the UDP size our OPT records state (upstream.EDNSSize).
const ednsSize = 1232
