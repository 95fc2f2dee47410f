// Package results owns trial records, their durable store (SQLite in the
// output folder), the Pareto front of TPS against P95, the SLO pick and the
// values.yaml export and report: trials.db, trials.jsonl, pareto.json and
// values.yaml in the output folder are written here and nowhere else.
//
// It only reads trial records: it must not import search, deployer or loader.
//
// Imports of this module: nothing.
// Never imports: net/http, helm.sh/helm, k8s.io, github.com/c-bata/goptuna.
package results
