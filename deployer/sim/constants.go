package sim

// Every constant of the model, with where it comes from: "seed" (a figure of
// the case study), "Dify" (a default of Dify, its chart or a component),
// "estimate" (engineering estimate, then fitted to the seed's table by
// TestCalibrationTable). Times are seconds, CPU is cores, memory MiB.
// MODEL.md explains how they combine.

// Load defaults (seed: 100 users, spawn rate 10/s, 3 minutes; think time
// chosen so that the seed's median of 1.7 s at 46.3 TPS holds: N/X − Z̄).
const (
	defaultUsers     = 100
	defaultSpawnRate = 10.0
	defaultDuration  = 180.0
	defaultThinkMin  = 0.2
	defaultThinkMax  = 0.8
	clientTimeout    = 60.0 // seed: the Locust script's timeout=60
)

// API server (dify-api on gunicorn + gevent).
const (
	defaultWorkerConns = 10    // Dify: SERVER_WORKER_CONNECTIONS default (setting api.workerConnections)
	podOverheadCores   = 0.25  // estimate, fitted: gunicorn arbiter, probes, pod network stack when busy
	throttleMaxLoss    = 0.2   // estimate, fitted to the seed's table with TestNoCliff: the share of the quota CFS throttling wastes at most
	throttleScale      = 0.3   // estimate, fitted to s8-initial vs s8-cpu12: overshoot (cores) at which the loss reaches 63% of its maximum
	contextSwitchCost  = 0.03  // estimate: share lost per runnable process beyond one per core (context switches, cold caches; gunicorn's docs warn that too many workers thrash)
	gcEveryRequests    = 150   // estimate: requests a process serves between full (gen-2) collections
	gcStallPerGiB      = 0.6   // estimate, fitted to the seed's 2-worker vs 4-worker pods: pod-wide stall per GiB of the collecting process's heap
	gcPressureGain     = 3.0   // estimate: stalls lengthen as pod RSS nears its limit (reclaim)
	apiPodBaseMiB      = 150   // estimate: gunicorn arbiter and shared pages
	apiProcMiB         = 380   // estimate: one dify-api worker process after imports (RSS)
	dbPoolOverflow     = 10    // Dify: SQLALCHEMY_MAX_OVERFLOW default, api/configs/middleware/__init__.py (setting api.dbMaxOverflow)
	poolTimeout        = 30.0  // SQLAlchemy pool_timeout default
	errorHandlingCPU   = 0.006 // estimate: exception, traceback logging, error event
	errorRecordCPU     = 0.001 // estimate: marking the message and workflow run failed
)

// Dify ≥ 1.13: the run in a Celery worker, its events through Redis
// (worker.go), and the LLM node (both topologies).
const (
	taskStartLatency   = 0.05   // estimate, fitted to the Enterprise benchmark's empty-workflow duration with 2 workers: Celery's receipt, ack and app context before the task's first line (slot held, no CPU)
	enqueueCommands    = 3      // Celery's LPUSH of the message, its result key and the queue's bookkeeping
	publishCPU         = 0.0005 // estimate, fitted to the Enterprise benchmark: one event serialised (pydantic, JSON) and PUBLISHed
	relayCPU           = 0.0004 // estimate, fitted to the Enterprise benchmark: the api decoding one event and writing it as SSE
	llmNodeCPU         = 0.004  // estimate: prompt assembly, model instance, the LLM node's setup
	pluginInvokeCPU    = 0.0035 // estimate: the plugin daemon's dispatch of a model invocation (as the time tool)
	pluginChunkCPU     = 0.0001 // estimate: the plugin daemon and runtime passing one streamed chunk
	llmChunkCPU        = 0.0003 // estimate: the LLM node turning one chunk into a graph event
	llmBatches         = 8      // simulation only: a streamed answer's chunks are simulated in at most this many batches
	decisionTokens     = 20.0   // estimate: a function-calling decision's output tokens on a hosted model
	hostedEmbedLatency = 0.15   // estimate: one query embedding on a hosted embedding API
)

// Network.
const (
	rtt = 0.0003 // estimate: in-cluster round trip
)

// PostgreSQL.
const (
	pgMaxConnections     = 100    // PostgreSQL default max_connections (setting postgresql.maxConnections)
	pgBackendScale       = 100.0  // estimate: backends at which the per-query slowdown reaches pgBackendSlowdown (fitted at max_connections 100; the cost follows the backends, not the setting)
	pgSuperuserReserved  = 3      // PostgreSQL default superuser_reserved_connections
	pgConnectCPU         = 0.0015 // estimate: backend fork + authentication
	pgRejectCPU          = 0.0015 // estimate: the backend is forked and authenticates before the limit check refuses it
	pgBackendSlowdown    = 0.5    // estimate, fitted to s16-horizontal vs s16-pgbouncer: per-query CPU × (1 + this × (backends/max_connections)²)
	pgBaseMiB            = 300    // Dify chart: shared_buffers 128 MiB + postmaster and caches
	pgBackendMiB         = 9      // estimate: one backend's private memory (work_mem in use, catalog cache)
	fsyncSSDMean         = 0.0006 // estimate: local NVMe/SSD fdatasync
	fsyncSSDSigma        = 0.3
	fsyncNFSMean         = 0.010  // estimate, fitted to s8-workers2 vs s8-ssd: NFS COMMIT round trip
	fsyncNFSSigma        = 0.9    // seed: "WAL 日志写入延迟波动剧烈" (heavy, jittery tail)
	fsyncDefaultMean     = 0.002  // estimate: the cluster's default class, a cloud network block volume (EBS gp3, GCE pd-balanced): a write round trip of 1–3 ms
	fsyncDefaultSigma    = 0.5    // estimate: network block storage jitters less than NFS, more than a local disk
	bgConnsPerWorker     = 2      // estimate: celery worker's pool in use
	bgConnsPerPlugin     = 4      // estimate: plugin daemon's GORM pool
	bgConnsOther         = 1      // celery beat
	pgbouncerHop         = 0.0001 // estimate: one extra proxy hop
	pgbouncerWaitTimeout = 120.0  // pgbouncer query_wait_timeout default
)

// Other services.
const (
	redisOpCPU        = 0.00004 // estimate: one Redis command
	taskPGCPU         = 0.0013  // fitted with the request's transactions: a Celery task's 2-statement commit
	reservedBGCores   = 0.3     // estimate: web, sandbox, beat, ssrf-proxy idling
	reservedNeedMiB   = 950     // estimate: nginx 50, web 250, sandbox 300, ssrf-proxy 100, beat 250
	workerMiB         = 420     // estimate: celery worker process
	workerTaskMiB     = 8       // estimate: a running workflow's graph, variable pool and response buffers in the worker
	pluginMiB         = 450     // estimate: plugin daemon + python plugin runtimes
	weaviateMiB       = 600     // estimate: weaviate + the knowledge base's index
	weaviateContend   = 3.0     // estimate: shared-node slowdown per unit of cluster CPU utilisation (seed: dedicated cut latency ~40%)
	xinferenceMiB     = 1400    // estimate: xinference + a small embedding model
	xinferenceScaling = 0.8     // estimate: torch intra-op speedup = cores^0.8
	ollamaMiB         = 900     // estimate: ollama + a 0.5B model + 4 parallel KV caches
	redisMiB          = 60      // estimate: Redis with Dify's keys and the celery queue
)

// Default allocations when a System leaves a service out (the community
// chart's requests, rounded), and default settings (Dify's defaults).
var defaultAllocs = map[string][3]float64{ // replicas, cores, MiB
	"api":          {1, 1, 2048},
	"worker":       {1, 1, 2048},
	"pluginDaemon": {1, 1, 2048},
	"postgresql":   {1, 1, 2048},
	"weaviate":     {1, 1, 2048},
	"redis":        {1, 0.5, 1024},
	"xinference":   {1, 1, 2048},
	"ollama":       {1, 1, 2048},
}

const (
	defaultWorkers      = 1             // Dify: SERVER_WORKER_AMOUNT, api/docker/entrypoint.sh
	defaultDBPoolSize   = 30            // Dify: SQLALCHEMY_POOL_SIZE, api/configs/middleware/__init__.py
	defaultConcurrency  = 1             // Dify: CELERY_WORKER_AMOUNT (-c), api/docker/entrypoint.sh
	defaultPgbPoolSize  = 20            // pgbouncer default_pool_size
	defaultPgbPoolMode  = "transaction" // what the seed used
	defaultStorageClass = "nfs"         // the seed's starting point
	defaultPlacement    = "shared"
)
