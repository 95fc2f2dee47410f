package sim

import (
	"fmt"
	"slices"

	"github.com/tune-dify/tune/spaces"
)

// Reads is what the model reads of a System: the services whose allocation
// it models and the settings it acts on. A space's service or parameter that
// is not here changes nothing in the model; a name here that the space lacks
// runs at the model's default. Callers (tune validate, a study's start) say
// both by name instead of letting a rename pass silently.
type Reads struct {
	Services []string
	Settings []string
}

// The services the model always has: absent from a System, each runs on
// defaultAllocs.
var coreServices = []string{"api", "worker", "pluginDaemon", "postgresql", "weaviate", "redis"}

// Model servers beside Dify: they exist in the model only when the System
// has them; without them the agent's LLM call and the retrieval's embedding
// go to a hosted provider (a latency, no station).
var optionalServices = []string{"xinference", "ollama"}

// Components nobody tunes but a space may list with a fixed allocation
// (the chart's web, sandbox, nginx proxy, ssrf proxy, celery beat and a
// pgbouncer pod): their CPU and memory join the reserved pool, the side
// capacity nginx and ssrf-proxy work on and the model may starve.
var sideServices = []string{"proxy", "ssrfProxy", "web", "sandbox", "beat", "pgbouncer"}

// The settings the model reads, by name; every read goes through these.
const (
	setWorkers     = "api.workers"
	setWorkerConns = "api.workerConnections"
	setDBPool      = "api.dbPoolSize"
	setDBOverflow  = "api.dbMaxOverflow"
	setConcurrency = "worker.concurrency"
	setPGMaxConns  = "postgresql.maxConnections"
	setStorage     = "postgresql.storageClass"
	setPlacement   = "weaviate.placement"
	setPgbEnabled  = "pgbouncer.enabled"
	setPgbPoolMode = "pgbouncer.poolMode"
	setPgbPoolSize = "pgbouncer.poolSize"
)

// settingsRead is every setting build reads, in both topologies: the
// mechanisms (gunicorn, SQLAlchemy's pool, Celery's pool, PostgreSQL's
// limit, pgbouncer) are the same code in both; what moves between them is
// where a workflow runs.
var settingsRead = []string{
	setWorkers, setWorkerConns, setDBPool, setDBOverflow, setConcurrency,
	setPGMaxConns, setStorage, setPlacement, setPgbEnabled, setPgbPoolMode, setPgbPoolSize,
}

// ReadsFor is what the model reads for a space (its Dify version chooses the
// topology; the services it lists choose the optional and side services).
// TestReadsForIsExact checks it against what build reads.
func ReadsFor(sp *spaces.Space) Reads {
	has := map[string]bool{}
	for _, sv := range sp.Services {
		has[sv.Name] = true
	}
	services := slices.Clone(coreServices)
	for _, n := range append(slices.Clone(optionalServices), sideServices...) {
		if has[n] {
			services = append(services, n)
		}
	}
	return Reads{Services: services, Settings: slices.Clone(settingsRead)}
}

// topology is where a workflow run executes.
type topology uint8

const (
	// inWorker: Dify 1.13 and later. The api creates nothing but the
	// subscription: it enqueues workflow_based_app_execution on Redis and
	// relays the run's events; a Celery worker runs the graph.
	inWorker topology = iota
	// inAPI: before 1.13, the api process runs the graph in a thread and
	// streams from it; the worker only gets a short side task.
	inAPI
)

// topologyOf picks the topology of a Dify release ("1.12", "1.14.2"); an
// empty or unreadable version means the newest.
func topologyOf(version string) topology {
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return inWorker
	}
	if major < 1 || major == 1 && minor < 13 {
		return inAPI
	}
	return inWorker
}

func (t topology) String() string {
	if t == inAPI {
		return "api runs workflows (Dify < 1.13)"
	}
	return "Celery workers run workflows (Dify ≥ 1.13)"
}

// reader reads a System's settings and services by declared name, and
// remembers what it read (TestReadsForIsExact compares that with ReadsFor).
type reader struct {
	sys  spaces.System
	read map[string]bool // nil: do not record
}

func (rd *reader) note(name string) {
	if rd.read != nil {
		rd.read[name] = true
	}
}

func (rd *reader) int(name string, def int64) int64 {
	rd.note(name)
	return rd.sys.Int(name, def)
}

func (rd *reader) str(name, def string) string {
	rd.note(name)
	return rd.sys.String(name, def)
}

func (rd *reader) bool(name string, def bool) bool {
	rd.note(name)
	return rd.sys.Bool(name, def)
}

// has reports whether the System runs service name: listed (which counts
// as read) and not switched off (zero replicas, as a service whose
// enabledBy parameter is false resolves).
func (rd *reader) has(name string) bool {
	a, ok := rd.sys.Services[name]
	if ok {
		rd.note(name)
	}
	return ok && a.Replicas > 0
}
