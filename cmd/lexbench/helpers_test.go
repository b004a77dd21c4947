package main

import "github.com/lexbench/lexbench/runfile"

// markRunning rewrites the run file beside journal j to say its run is
// still running: what a run killed before closing its journal leaves.
func markRunning(j string) error {
	r, err := runfile.Read(runfile.Path(j))
	if err != nil {
		return err
	}
	r.State, r.Size, r.Trace = runfile.Running, 0, 0
	return runfile.Write(runfile.Path(j), r, false)
}
