// Package spaces owns the search-space schema (versioned, strictly decoded,
// validated with file:line for every problem), budgets ("8c16g", "16c32g",
// node pools such as "2x8c16g"), resource accounting and feasibility
// (including packing pods onto nodes), configs and presets, and the mapping of
// a configuration onto Helm values paths.
//
// The flow: Load a Space, ParseBudget, then for each Config (LoadConfig, or
// one per trial) Resolve it into a System, Check that it fits, count its
// Usage, and write its Overlay as Helm values. Every error caused by what the
// user wrote matches ErrInvalid (exit code 2); file problems are *FileError
// values with file, line and field.
//
// It must not import goptuna, Helm, client-go, net/http or any other package
// of this module: everything downstream reads it, it reads nothing.
//
// Imports of this module: nothing.
// Never imports: net/http, helm.sh/helm, k8s.io, github.com/c-bata/goptuna.
package spaces
