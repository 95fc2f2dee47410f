package helm

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels, matched with errors.Is. A trial that fails with ErrRejected or
// ErrRollout is a failed trial: the cluster is as it was before Apply (or
// rolled back to the last good revision) and the study can go on.
// ErrUnreachable says nothing about the configuration: the API server did
// not answer, and the trial should be retried once it does.
var (
	// ErrRejected: the configuration was refused before the cluster saw it
	// (the chart's schema refused the values, the chart failed to render, or
	// the rendered resources exceed the budget: *BudgetError).
	ErrRejected = errors.New("configuration refused")

	// ErrOverBudget: the rendered requests or limits exceed the budget
	// (*BudgetError). It also matches ErrRejected.
	ErrOverBudget = errors.New("rendered resources exceed the budget")

	// ErrRollout: the release was applied but did not roll out, or Helm
	// failed to apply it (*RolloutError); it has been rolled back.
	ErrRollout = errors.New("rollout failed")

	// ErrHealth: everything rolled out but the endpoint did not answer its
	// health check in time (*HealthError). The release is left as it is.
	ErrHealth = errors.New("health check failed")

	// ErrUnreachable: the Kubernetes API server could not be reached.
	ErrUnreachable = errors.New("kubernetes api server unreachable")

	// ErrSystematic: the failure says nothing about the configuration and
	// every trial would hit it the same way (the chart does not render with
	// the release's own values, a service's workload is not in the release):
	// a study should stop with it instead of recording failed trials
	// (*SystematicError).
	ErrSystematic = errors.New("fails every configuration the same way")

	// ErrUnbounded: a long-running container of the rendered release sets no
	// CPU or memory limit, so the budget does not bound it (*BoundsError).
	// It also matches ErrRejected.
	ErrUnbounded = errors.New("a container is not bounded by the budget")
)

// SystematicError is a failure every trial of a study would hit alike.
type SystematicError struct{ Err error }

func (e *SystematicError) Error() string {
	return e.Err.Error() + " (with the release's own values too: no configuration can get past it)"
}

func (e *SystematicError) Unwrap() []error { return []error{ErrSystematic, e.Err} }

// BoundsError names the long-running containers of a rendered release that
// set no CPU or memory limit ("Deployment/dify-web: container web sets no
// cpu limit"): the space does not bound them.
type BoundsError struct{ Unbounded []string }

func (e *BoundsError) Error() string {
	return "the budget does not bound every container (give each a service in the space): " + strings.Join(e.Unbounded, "; ")
}

func (e *BoundsError) Unwrap() []error { return []error{ErrUnbounded, ErrRejected} }

// rejected is an error of the ErrRejected kind whose text is msg.
type rejected struct {
	msg   string
	cause error
}

func (e *rejected) Error() string   { return e.msg }
func (e *rejected) Unwrap() []error { return []error{ErrRejected, e.cause} }

func rejectf(cause error, format string, a ...any) error {
	return &rejected{msg: fmt.Sprintf(format, a...), cause: cause}
}

// BudgetError is the audit's refusal: which resources of the rendered
// release exceed the budget, and by how much.
type BudgetError struct {
	Budget   string   // as the user wrote it: "16c32g"
	Problems []string // "requests.cpu 17.5 cores, budget 16c32g has 16 (1.5 over)"
	Audit    *Audit
}

func (e *BudgetError) Error() string {
	return "rendered release exceeds the budget: " + strings.Join(e.Problems, "; ")
}

func (e *BudgetError) Unwrap() []error { return []error{ErrOverBudget, ErrRejected} }

// Problem is why one workload did not roll out.
type Problem struct {
	Workload string // the space's name for it ("api"), else Kind/name
	Kind     string // Deployment or StatefulSet
	Name     string
	Ready    int
	Want     int
	Reason   string // "0/1 nodes are available: 1 Insufficient cpu", "OOMKilled", "timeout after 2m"
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %d/%d ready: %s", p.Workload, p.Ready, p.Want, p.Reason)
}

// RolloutError is a release that was applied but did not roll out (Problems),
// or that Helm failed to apply (Err), and what was done about it.
type RolloutError struct {
	Release  string
	Revision int // the revision that failed; 0 when Helm failed before making one
	Problems []Problem
	Err      error // Helm's own error, when the apply itself failed

	// RolledBackTo is the revision the release was rolled back to; 0 with
	// Uninstalled when there was no good revision to go back to.
	RolledBackTo int
	Uninstalled  bool
	RollbackErr  error // the rollback failed too: the release is in an unknown state
}

func (e *RolloutError) Error() string {
	var parts []string
	for _, p := range e.Problems {
		parts = append(parts, p.String())
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	msg := strings.Join(parts, "; ")
	switch {
	case e.RollbackErr != nil:
		msg += fmt.Sprintf(" (and the rollback failed: %v)", e.RollbackErr)
	case e.Uninstalled:
		msg += " (uninstalled: no earlier revision rolled out)"
	case e.RolledBackTo > 0:
		msg += fmt.Sprintf(" (rolled back to revision %d)", e.RolledBackTo)
	}
	return msg
}

func (e *RolloutError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrRollout, e.Err}
	}
	return []error{ErrRollout}
}

// HealthError is an endpoint that did not answer 2xx within the health
// timeout.
type HealthError struct {
	URL     string
	Timeout time.Duration
	Last    string // the last answer or transport error
}

func (e *HealthError) Error() string {
	return fmt.Sprintf("health check %s: no 2xx answer within %v (last: %s)", e.URL, e.Timeout, e.Last)
}

func (e *HealthError) Unwrap() error { return ErrHealth }

// unreachable wraps err, an API server that did not answer, with ErrUnreachable.
type unreachable struct{ err error }

func (e *unreachable) Error() string   { return "kubernetes api server unreachable: " + e.err.Error() }
func (e *unreachable) Unwrap() []error { return []error{ErrUnreachable, e.err} }
