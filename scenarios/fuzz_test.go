package scenarios_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/dnsfault/dnsfault/scenarios"
)

// checkErrors fails unless err is nil or an ErrorList whose every error
// has a place, save the two that have none: an empty file, and a YAML
// syntax error the YAML parser gives no line for.
func checkErrors(t *testing.T, input string, err error) {
	if err == nil {
		return
	}
	var list scenarios.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("an error that is not an ErrorList for %q: %v", input, err)
	}
	if len(list) == 0 {
		t.Fatalf("an empty ErrorList for %q", input)
	}
	for _, e := range list {
		unplaced := strings.HasPrefix(e.Msg, "empty scenario file") || strings.HasPrefix(e.Msg, "YAML syntax")
		if e.Line <= 0 && !unplaced {
			t.Fatalf("an error without a line for %q: %v", input, e)
		}
		if e.Line > 0 && e.Column <= 0 {
			t.Fatalf("an error without a column for %q: %v", input, e)
		}
	}
}

// seedScenarios are the bundled library, the examples and testdata's bad
// scenarios.
func seedScenarios(f *testing.F) {
	for _, pattern := range []string{"library/*.yaml", "testdata/scenarios/*.yaml", "../examples/*/*.yaml", "../examples/*/*/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(string(data))
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	seedScenarios(f)
	f.Fuzz(func(t *testing.T, text string) {
		sc, err := scenarios.Parse("fuzz.yaml", []byte(text), scenarios.Options{Set: map[string]string{}})
		checkErrors(t, text, err)
		if err == nil && (sc == nil || len(sc.Phases) == 0) {
			t.Fatalf("a scenario without phases for %q", text)
		}
		if err != nil && sc != nil {
			t.Fatalf("a scenario and an error for %q", text)
		}
	})
}

func FuzzRecord(f *testing.F) {
	for _, seed := range []string{
		"api.test.internal. 60 IN A 127.0.0.1", "@ 30 IN CNAME elsewhere.example.", "x 60 IN A 999.1.1.1",
		"@ IN SOA", "@ IN SOA ns hostmaster 1 2 3 4 5", "x IN TXT \"a\" \"b\"", "x IN MX 10", "$INCLUDE /etc/passwd",
		"$ORIGIN evil.", "x IN TYPE65534 \\# 2 abcd", "x (\n IN A\n 1.2.3.4 )", "x IN SRV 0 0 0 .", "x IN CAA 0 issue \"ca\"",
		"x IN HTTPS 1 . alpn=h2", "\x00", "x IN A 1.2.3.4 ; comment",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, record string) {
		// yaml.Marshal quotes the record whatever it holds.
		doc := map[string]any{
			"version": 1,
			"zones":   []any{map[string]any{"origin": "test.internal.", "records": []string{record}}},
			"rules":   []any{map[string]any{"action": "answer", "records": []string{record}}},
		}
		text, err := yaml.Marshal(doc)
		if err != nil {
			t.Skip()
		}
		_, err = scenarios.Parse("fuzz.yaml", text, scenarios.Options{})
		checkErrors(t, string(text), err)
	})
}
