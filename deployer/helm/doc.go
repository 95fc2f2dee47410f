// Package helm is the deployer of `tune --target helm`: it turns a trial's
// Helm values overlay into a rolled-out release on a real cluster through
// the Helm SDK (helm.sh/helm/v3/pkg/action, never a helm binary) and
// client-go, and reads back what the cluster holds.
//
// A study uses one Deployer (New) per release, from one goroutine:
//
//	d, _ := helm.New(ctx, space, helm.Options{Kubeconfig: ..., Budget: &budget})
//	base, _ := d.Baseline(ctx)           // before any Apply: revisions and values to return to
//	live, assumed, _ := d.LiveBaseline(ctx) // trial 0: the release as it runs
//	for each trial:
//		overlay, _ := d.Overlay(cfg)     // spaces.Space.Overlay over the release's own values
//		applied, err := d.Apply(ctx, overlay)
//		obs := d.Observe(ctx, 0); ...load...; usage := obs.Stop()
//	d.Restore(freshCtx, base)            // at the end, and on SIGINT/SIGTERM
//
// Apply renders the chart first, as the upgrade will (Helm's server-side
// dry run, so Bitnami's templates find the release's own Secrets), and
// refuses values the chart's values.schema.json refuses, a long-running
// container without a CPU or memory limit (*BoundsError) and configurations
// whose rendered requests or limits exceed the budget (Audit), before the
// cluster sees anything. A refusal the release's own values hit as well is
// a *SystematicError (ErrSystematic): no trial can get past it, so a study
// stops. It then installs or upgrades, waits for every Deployment and StatefulSet of
// the release with its own client-go polling (so a failure carries the reason
// a person wants: "api: 0/3 ready: 0/1 nodes are available: 1 Insufficient
// cpu", OOMKilled, CrashLoopBackOff, ImagePullBackOff, "timeout after 2m"),
// rolls back to the last good revision when the rollout fails, settles and
// checks the endpoint's health.
//
// Companions (target.helm.companions) are what tune deploys beside a chart
// that lacks them: tune's pgbouncer (charts/pgbouncer, embedded) is a
// release of its own, installed before a trial points the chart's database
// clients at it, removed once a trial no longer does, and back to the
// baseline's state on Restore. Overlay puts a companion's values under its
// name; Apply takes them out. RenderCompanion writes it as a manifest for an
// export.
//
// Workloads map to the space's services through target.helm.workloads: a
// label selector per top-level values key (api → component=api), matched
// against the labels of the release's Deployments and StatefulSets. ReadSystem
// uses that mapping to rebuild a spaces.System from the objects in the API
// server (ReadConfig; LiveBaseline for a release tune has not bounded yet);
// CheckPaths renders each parameter's extremes to find values paths that
// change nothing, beyond the noise of charts that randomise every render;
// Bounds renders the smallest and largest configurations and names every
// container the space does not bound.
//
// rbac.yaml is the Role it needs in the release's namespace (the e2e tests
// run a study with nothing more). A StatefulSet whose volume claims change
// (postgresql.storageClass) cannot be updated in place: Apply refuses it
// unless Options.RecreateVolumes lets it delete the StatefulSet and its
// claims first, losing their data.
//
// It imports spaces and nothing else of this module: search declares the
// deployer interface it needs, and the results are the caller's to record.
//
// Imports of this module: spaces.
package helm
