// Package results owns trial records, their durable store (SQLite in the
// output folder), the Pareto front of TPS against P95, the SLO pick and the
// values.yaml export and report.
//
// It only reads trial records: it must not import search, deployer or loader.
package results
