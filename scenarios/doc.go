// Package scenarios is the scenario file model of dnsfault: it parses and
// validates scenario YAML (version 1) into an immutable, typed Scenario, and
// ships the bundled library of scenarios.
//
// It knows nothing of sockets: the injector package compiles a Scenario into
// the structures it serves from. Every problem in a file is reported at once,
// each as "file:line:col: message", and a file with any error yields no
// Scenario at all, so a half-valid file is never served.
package scenarios
