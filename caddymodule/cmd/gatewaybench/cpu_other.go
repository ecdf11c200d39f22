//go:build !unix

package main

import "time"

// processCPU is not measured on this platform; the report shows n/a.
func processCPU() (time.Duration, bool) { return 0, false }
