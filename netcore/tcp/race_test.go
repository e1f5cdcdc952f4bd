//go:build race

package tcp

// raceEnabled shortens the long simulations: the race detector slows them
// tenfold and finds nothing more in the later megabytes.
const raceEnabled = true
