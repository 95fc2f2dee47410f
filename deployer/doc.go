// Package deployer is where a configuration becomes something that runs.
// Every target takes a spaces.System (a Config resolved against its space
// and budget: per-service replicas, CPU and memory, plus settings such as
// api.workers or pgbouncer.enabled) and the spaces.Workload of the trial:
//
//   - deployer/sim is the embedded, calibrated model of the Dify stack. It
//     runs the workload's virtual users against the System in virtual time
//     and returns the results.Measurement a load test would have, with no
//     cluster. It is the default target, the substrate of the search
//     benchmarks and the what-if planner.
//   - deployer/local serves the same model as a Dify-compatible streaming API
//     on loopback, in real time, so the SSE loader can be tested end to end.
//   - deployer/helm upgrades a real release with the System's Helm values
//     (spaces renders them) and waits for the rollout; the loader then drives
//     the real load.
//
// The targets share no code with search: search declares the Evaluator it
// needs and each target satisfies it. This package itself holds only this
// overview.
//
// Imports of this module: nothing.
package deployer
