package main

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Fire lists, in UTC and RFC 3339, every time t with from <= t < to at which the CronJob
// controller fires schedule in zone.
func Fire(zone, schedule, from, to string) ([]string, error) {
	sched, err := cron.ParseStandard(fmt.Sprintf("TZ=%s %s", zone, schedule))
	if err != nil {
		return nil, err
	}
	start, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return nil, err
	}
	end, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return nil, err
	}
	out := []string{}
	// Next(t) is the first tick after t: start one second early so a tick at from counts.
	for t := sched.Next(start.Add(-time.Second)); !t.IsZero() && t.Before(end); t = sched.Next(t) {
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	return out, nil
}
