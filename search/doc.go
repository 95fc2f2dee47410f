// Package search owns the study loop: it turns goptuna trials into feasible
// configurations (an encoding the sampler can learn, never rejection), runs
// the baseline and enqueued presets first, hands each configuration to an
// Evaluator, records every trial the moment it finishes and resumes a study
// from its store.
//
// It declares the Evaluator it needs; the deployers implement it without
// importing search. It must not import net/http, Helm or client-go.
//
// Imports of this module: spaces and results.
// Never imports: net/http, helm.sh/helm, k8s.io.
package search
