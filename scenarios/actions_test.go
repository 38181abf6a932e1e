package scenarios_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dnsfault/dnsfault/scenarios"
)

// TestActionTableMatchesTheDocs ties the documents that list the actions
// to the action table: the report schema's enum, in order, and a row of
// the scenario reference for each action.
func TestActionTableMatchesTheDocs(t *testing.T) {
	var want []string
	for _, a := range scenarios.Actions {
		want = append(want, string(a))
	}

	data, err := os.ReadFile("../docs/report.schema.json")
	require.NoError(t, err)
	var schema struct {
		Properties struct {
			Phases struct {
				Items struct {
					Properties struct {
						Rules struct {
							Items struct {
								Properties struct {
									Action struct {
										Enum []string `json:"enum"`
									} `json:"action"`
								} `json:"properties"`
							} `json:"items"`
						} `json:"rules"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"phases"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(data, &schema))
	assert.Equal(t, want, schema.Properties.Phases.Items.Properties.Rules.Items.Properties.Action.Enum, "docs/report.schema.json's action enum")

	ref, err := os.ReadFile("../docs/scenarios.md")
	require.NoError(t, err)
	documented := map[string]bool{} // actions named in a table's first column
	for _, line := range strings.Split(string(ref), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 && strings.HasPrefix(line, "| `") {
			for _, name := range strings.Split(cells[1], ",") {
				documented[strings.Trim(strings.TrimSpace(name), "`")] = true
			}
		}
	}
	for _, a := range want {
		assert.True(t, documented[a], "docs/scenarios.md has no row for action %s", a)
	}
}

// TestActionTableRows checks what the table says of each action against
// what parsing accepts.
func TestActionTableRows(t *testing.T) {
	for _, a := range scenarios.Actions {
		info := a.Info()
		assert.Equal(t, a, info.Action, "every action has a row")
		yaml := "version: 1\nrules: [{match: {names: [a.test]}, action: " + string(a) + ", ttl: 5"
		if info.TakesRecords {
			yaml += `, records: ["@ 60 IN A 192.0.2.1"]`
		}
		_, err := scenarios.Parse("a.yaml", []byte(yaml+"}]\n"), scenarios.Options{})
		if info.Sends == scenarios.SendsMessage {
			assert.NoError(t, err, "%s sends a message: ttl applies", a)
		} else {
			assert.ErrorContains(t, err, "sends no DNS message", "%s sends no message: ttl is refused", a)
		}
	}
	assert.Zero(t, scenarios.Action("nxdomian").Info(), "an unknown action has no row")
}
