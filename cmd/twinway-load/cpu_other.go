//go:build !unix

package main

// selfCPU is not measured on this platform.
func selfCPU() float64 { return 0 }
