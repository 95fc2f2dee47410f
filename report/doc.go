// Package report turns a study folder and a load run into self-contained
// HTML pages: report.html beside trials.jsonl (the recommendation in words,
// the Pareto front, convergence, parameter importance, utilisation per
// service and the sortable trials table) and the page of `tune load --html`
// (the per-second timeline and the summary).
//
// The pages open from disk with no network: the chart library (Apache
// ECharts, driven through go-echarts) and the table sorter (tablesort) are
// inlined from assets/, where their licenses are kept. The numbers a page
// shows are computed here, from the records alone, so a study still running
// or interrupted (a folder with only some trials, no pareto.json yet) has a
// report too.
//
// It reads trial records (results), space files (spaces) and load summaries
// (loader). It must not import search or deployer: a report describes what
// was measured, never how it was proposed or deployed.
//
// Imports of this module: spaces, results and loader.
// Never imports: github.com/c-bata/goptuna, helm.sh/helm, k8s.io.
package report
