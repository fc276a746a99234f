package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// The recorded ticks that cronbench's own cron math is tested against
// (tests/fixtures/dst-ticks.txt) are what robfig/cron fires for the recorded cases.
func TestRecordedTicksAreTheControllersOwn(t *testing.T) {
	cases := lines(t, "../../tests/fixtures/dst-cases.txt")
	recorded := lines(t, "../../tests/fixtures/dst-ticks.txt")
	if len(cases) != len(recorded) {
		t.Fatalf("%d cases, %d recorded lines: regenerate with `go run . < cases > ticks`", len(cases), len(recorded))
	}
	for i, c := range cases {
		got, err := ticks(c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if got != recorded[i] {
			t.Errorf("robfig/cron fires\n  %s\nrecorded\n  %s", got, recorded[i])
		}
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		l := strings.TrimSpace(s.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
