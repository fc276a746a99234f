// Command crontz prints the times at which the Kubernetes CronJob controller fires a
// schedule in a time zone: it parses "TZ=<zone> <schedule>" with cron.ParseStandard and walks
// Schedule.Next, as kube-controller-manager v1.36 does (pkg/controller/cronjob: formatSchedule
// and mostRecentScheduleTime), with the robfig/cron version Kubernetes v1.36.3 pins.
//
// Input, one case a line: "<zone>|<schedule>|<from RFC 3339>|<to RFC 3339>".
// Output, one case a line: the input, "=>", then each tick t with from <= t < to in UTC.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out, err := ticks(line)
		if err != nil {
			fmt.Fprintf(os.Stderr, "crontz: %q: %v\n", line, err)
			os.Exit(1)
		}
		fmt.Println(out)
	}
}

// ticks is the output line of one input case.
func ticks(line string) (string, error) {
	parts := strings.Split(line, "|")
	if len(parts) != 4 {
		return "", fmt.Errorf("want zone|schedule|from|to")
	}
	got, err := Fire(parts[0], parts[1], parts[2], parts[3])
	if err != nil {
		return "", err
	}
	return line + " => " + strings.Join(got, " "), nil
}
