// Package dnssec signs what dnsfault's zones answer: keys, RRSIGs made
// once per RRset and kept, the NSEC chain's canonical order, the NSEC
// "white lies" (RFC 4470) that prove a fault's negative answer, and the
// trust anchors a validating resolver needs to trust the zones. It also
// holds the DNSSEC faults, which break answers the way real signers and
// registries have broken them.
package dnssec
