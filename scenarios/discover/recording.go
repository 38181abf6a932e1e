package discover

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Recording is what dnsfault recorded of its clients' questions (serve or
// run with --record), as written to a file.
type Recording struct {
	Version   int       `json:"version"`
	Questions []Entry   `json:"questions"`
	Dropped   int       `json:"dropped_questions,omitempty"` // distinct questions past the recorder's limit
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended"`
}

// Entry is one distinct question.
type Entry struct {
	Name      string         `json:"name"` // lower case, fully qualified
	Type      string         `json:"type"`
	Count     int            `json:"count"`
	FirstSeen time.Time      `json:"first_seen"`
	LastSeen  time.Time      `json:"last_seen"`
	Rcodes    map[string]int `json:"rcodes"`
	MinTTL    int64          `json:"min_ttl"` // -1 when no answer could be cached
	MaxTTL    int64          `json:"max_ttl"`
	// Answers are the answer records seen, in zone-file form, such as
	// "www.example.com. 300 IN CNAME example.com.".
	Answers []string `json:"answers,omitempty"`
}

// ReadRecording reads a recording.
func ReadRecording(rd io.Reader) (Recording, error) {
	var rec Recording
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return rec, fmt.Errorf("reading a recording: %w", err)
	}
	if rec.Version != 1 {
		return rec, fmt.Errorf("reading a recording: version %d, want 1", rec.Version)
	}
	return rec, nil
}
