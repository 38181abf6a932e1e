package scenarios

// Action is what a rule does to the queries it takes.
type Action string

// The actions a rule may take. Each has a row in actionTable, and a fault
// in the injector's fault table (injector/fault/table.go).
const (
	Pass     Action = "pass"     // answer normally
	NXDomain Action = "nxdomain" // the name does not exist
	ServFail Action = "servfail" // the server failed
	Refused  Action = "refused"  // the server will not answer
	NotImp   Action = "notimp"   // not implemented
	FormErr  Action = "formerr"  // the query was malformed
	Empty    Action = "empty"    // NOERROR with no records (NODATA)
	Drop     Action = "drop"     // no reply at all: the client times out
	Answer   Action = "answer"   // reply with the rule's records
	Truncate Action = "truncate" // UDP: TC and no records; TCP: answer normally
	Garbage  Action = "garbage"  // bytes that do not parse as a DNS message
	// HTTPStatus answers a DoH query with an HTTP error status.
	HTTPStatus Action = "http-status"
	// TLSFail fails the TLS handshake of a DoT or DoH connection.
	TLSFail Action = "tls-fail"
)

// Sends is what an action sends back to the client.
type Sends uint8

// What an action may send.
const (
	// SendsMessage is a DNS message, which modifiers (ttl, ede, keep) can
	// change.
	SendsMessage Sends = iota
	// SendsNothing is no reply at all.
	SendsNothing
	// SendsRaw is bytes that are not a DNS message.
	SendsRaw
	// SendsHTTP is an HTTP error status instead of a DNS message (DoH).
	SendsHTTP
	// SendsHandshakeFailure acts on a TLS handshake, before any query.
	SendsHandshakeFailure
)

// ActionInfo is one row of the action table: what the action sends and
// which rule fields it accepts beyond those every action takes.
type ActionInfo struct {
	Action       Action
	Sends        Sends
	TakesRecords bool // records: required, and only allowed here
	TakesKeep    bool // keep: trims the answer the action produced
	// AtChainPoint says what the action does when it takes a name that a
	// CNAME or DNAME chain reaches: true, it acts at that point (the
	// answer keeps the chain up to the name); false, it takes the whole
	// answer, as it would a query for the name.
	AtChainPoint bool
}

// actionTable lists every action, in the order the documentation gives
// them. It is the one list: parsing, validation, the live counters and
// the report schema (by a test) all read it.
var actionTable = []ActionInfo{
	{Action: Pass, TakesKeep: true, AtChainPoint: true},
	{Action: NXDomain, AtChainPoint: true},
	{Action: ServFail},
	{Action: Refused},
	{Action: NotImp},
	{Action: FormErr},
	{Action: Empty, AtChainPoint: true},
	{Action: Drop, Sends: SendsNothing},
	{Action: Answer, TakesRecords: true, TakesKeep: true, AtChainPoint: true},
	{Action: Truncate},
	{Action: Garbage, Sends: SendsRaw},
	{Action: HTTPStatus, Sends: SendsHTTP},
	{Action: TLSFail, Sends: SendsHandshakeFailure},
}

// Actions lists every action, in the order the documentation gives them.
var Actions = func() []Action {
	out := make([]Action, len(actionTable))
	for i, row := range actionTable {
		out[i] = row.Action
	}
	return out
}()

// Info is a's row of the action table; the zero ActionInfo for an action
// that does not exist.
func (a Action) Info() ActionInfo {
	for _, row := range actionTable {
		if row.Action == a {
			return row
		}
	}
	return ActionInfo{}
}

func actionNames() []string {
	names := make([]string, len(Actions))
	for i, a := range Actions {
		names[i] = string(a)
	}
	return names
}
