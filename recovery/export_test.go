package recovery

import "github.com/lexbench/lexbench/workloads"

// SetWrap sets the test hook that wraps the workload of a resume or replay.
func (r *Request) SetWrap(f func(workloads.Workload) workloads.Workload) { r.wrap = f }
