// Package search owns the study loop: it turns goptuna trials into feasible
// configurations (an encoding the sampler can learn, never rejection), runs
// the baseline and enqueued presets first, hands each configuration to an
// Evaluator, records every trial the moment it finishes and resumes a study
// from its store.
//
// Samplers: goptuna's TPE (with local moves), random, CMA-ES and Sobol, and
// "guided", which reads each trial's per-service utilisation the way an
// engineer reads a dashboard (guide.go): while the SLO is missed and no
// service is saturated, requests wait for a slot, not a core, so every limit
// is raised at once and again while it pays; then the cores are split in
// proportion to what each service used, idle ones at their minimum, the
// freed cores to the bottleneck (never the other way), a saturated
// service's small pods merged into fewer with a process per core, its
// processes raised, another regime (storage, pooling), CPU shifted between
// services, then one number at a time; once the SLO holds with nothing
// saturated, busy processes get company. A challenger that served more but
// broke the error limit is repaired first (its pooler and pool moves), a
// trial far ahead in TPS whose P95 misses the SLO by the noise is built on
// instead of a leader that met it by luck, and settings of a switched-off
// component are never tried alone. With nothing left around its leader it
// works from the trials within 3% of it (its plateau); a move that lost
// before is tried last; a saturated service that served less with twice its
// cores is not taken for the bottleneck; a regime of a busy service that no
// trial has run (PostgreSQL on local SSD) is tried once, when the idle
// services' cores are spent and before the busy ones' are split again;
// pods whose CPU-bound processes outnumber their whole cores get the same
// cores in fewer pods, a core per process (guide_pods.go). A regime that
// cut a busy service's CPU per request is worked from even when it did not
// beat the leader: the service is cut to what it uses and the freed cores
// go to that trial's bottleneck (guide_twostep.go); saturated pods of
// processes get the memory the budget leaves (guide_memory.go); with two
// services saturated, the less busy one's single-process pods are merged
// onto the cores it used, its concurrency and memory kept in total, and
// the freed cores go to the busiest (guide_merge.go); a saturated service
// gets one CPU step from a service of many small pods reshaped to give up
// just that, its processes and memory kept in total (guide_trim.go). Six
// trials after its leader the guide works from the trial with the most
// TPS. TPE takes over when it has nothing left to try.
//
// Multi-fidelity (fidelity.go): with Study.Screen every trial is a short
// load; one that already breaks the SLO or cannot beat the best beyond the
// screen's noise is pruned through goptuna's Pruner (state pruned), the
// others are recorded as screens (Trial.ScreenS) the search learns from.
// A screen too slow to judge (censored) is followed by one sized to its
// P95 before any full load; Study.ScreenCompletions sizes every screen by
// the completions it should hold. Full loads go only to candidates for
// recommendation: the best screen once it has stood Study.PromoteAfter
// trials ahead of the best full load by more than its own noise (the
// first one once the screens have cost a full load), and on the study's
// last trial, is promoted (a trial of origin promoted, the
// full load of its screen's configuration), and Study.Confirm promotes and
// re-measures the top candidates, through the optional Remeasurer the
// evaluator may implement. Only full loads are recommended.
//
// It declares the Evaluator (and Remeasurer) it needs; the deployers
// implement them without importing search. It must not import net/http,
// Helm or client-go.
//
// Imports of this module: spaces and results.
// Never imports: net/http, helm.sh/helm, k8s.io.
package search
