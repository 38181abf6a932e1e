package main

import "fmt"

// plural writes n with its noun: "1 phase", "2 phases".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
