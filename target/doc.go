// Package target holds the trial targets a study evaluates configurations
// on, each behind the Evaluator the search declares (search does not import
// them; cmd/tune wires the one the user picks):
//
//   - the embedded model is deployer/sim's Model itself;
//   - Local serves the model as Dify's service API on loopback (the
//     emulator of deployer/local) and measures it with the loader, the same
//     emulate-and-load path target/helm takes with --emulate;
//   - target/helm is the Helm trial cycle: baseline, apply, read back,
//     load or emulate, observe, restore.
//
// It also says what each target reads of a space (Reads), so that a
// parameter nobody acts on is reported by name instead of passing silently.
//
// It must not import search or cmd: search declares what it needs.
// Imports of this module: spaces, results, loader, deployer/sim and deployer/local.
package target
