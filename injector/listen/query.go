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
	req.Unpack(b[:headerSize]) // the header alone always unpacks
	opcode := req.Opcode
	req.SetRcodeFormatError(req)
	req.Zero = false
	if action == dns.MsgRejectNotImplemented {
		req.Opcode, req.Rcode = opcode, dns.RcodeNotImplemented
	}
	req.Question, req.Answer, req.Ns, req.Extra = nil, nil, nil, nil
	return nil, req
}
