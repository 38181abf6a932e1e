package scenarios

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a scenario file, at a line and column.
type Error struct {
	File   string
	Line   int // 1-based; 0 when the problem has no place in the file
	Column int // 1-based
	Msg    string
}

func (e Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// ErrorList is every problem found in a scenario file, in file order. It is
// the error Parse returns; use errors.As to reach the positions.
type ErrorList []Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// sorted returns the list ordered by file (in the order each first
// appears) and position, keeping the order of errors at the same place.
func (l ErrorList) sorted() ErrorList {
	rank := map[string]int{}
	for _, e := range l {
		if _, ok := rank[e.File]; !ok {
			rank[e.File] = len(rank)
		}
	}
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].File != l[j].File {
			return rank[l[i].File] < rank[l[j].File]
		}
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Column < l[j].Column
	})
	return l
}

// Messages returns one line per problem of err: each positioned error of
// an ErrorList, or err's own text.
func Messages(err error) []string {
	if err == nil {
		return nil
	}
	var list ErrorList
	if errors.As(err, &list) {
		out := make([]string, len(list))
		for i, e := range list {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

// ParseSet reads parameter overrides written name=value, as --set and the
// API's ?set= give them.
func ParseSet(pairs []string) (map[string]string, error) {
	var set map[string]string
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: expected name=value, such as region=eu-west-1", kv)
		}
		if set == nil {
			set = map[string]string{}
		}
		set[k] = v
	}
	return set, nil
}
