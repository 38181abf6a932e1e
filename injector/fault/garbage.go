package fault

import "context"

// Garbage sends bytes that do not parse as a DNS message. They start with
// the client's ID and a response header, so the client takes them as the
// reply to its query, and then claim a question whose first label runs past
// the end of the packet.
type Garbage struct{}

var _ Fault = Garbage{}

// Act implements Fault.
func (Garbage) Act(_ context.Context, req *Request, _ Source) (Outcome, error) {
	raw := []byte{
		byte(req.Msg.Id >> 8), byte(req.Msg.Id),
		0x81, 0x80, // QR, RD, RA, NOERROR
		0, 1, 0, 1, 0, 0, 0, 0, // one question, one answer
		63, // a 63-byte label, of which far fewer bytes follow
	}
	raw = append(raw, "dnsfault-garbage"...)
	return Outcome{Raw: raw}, nil
}
