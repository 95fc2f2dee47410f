package sim

// stepKind is what one step of a request does.
type stepKind uint8

const (
	stNginx      stepKind = iota // CPU on the reserved pool (nginx)
	stSlot                       // pick an api pod (Service) and wait for a process slot
	stAPI                        // CPU in the api process (GIL-bound)
	stSession                    // check out the request-scoped pool connection
	stHot                        // UPDATE of the shared app token row, committed
	stTxn                        // transaction on the session connection
	stSideTxn                    // transaction on a second pooled connection (workflow persistence)
	stRedis                      // Redis commands
	stFirstByte                  // response headers sent: TTFB
	stPlugin                     // plugin daemon invocation (then the plugin's remote call)
	stOllama                     // LLM completion on ollama
	stEmbed                      // query embedding on xinference
	stSearch                     // hybrid search on Weaviate
	stHTTP2                      // two parallel HTTP requests through ssrf-proxy
	stTask                       // enqueue a celery task (runs asynchronously on the worker)
	stFlowStart                  // the workflow thread checks out its own scoped session
	stFlowEnd                    // the workflow thread ends and returns it
	stSessionEnd                 // the request session is closed before streaming
	stShortTxn                   // a short-lived session: check out, one transaction, return

	// Dify ≥ 1.13 (worker.go): the run executes in a Celery worker.
	stSubscribe // the api subscribes to the run's Redis topic
	stEnqueue   // the api enqueues the run's task; the steps up to stTaskEnd run in a worker slot
	stWAPI      // CPU in the worker process (GIL-bound, the pod's quota)
	stWTxn      // a short session of the worker's pool: check out, one transaction, return
	stPublish   // the worker publishes n events; the api relays them
	stLLM       // an LLM node streaming the provider's answer (run.llm)
	stTaskEnd   // the task returns: the worker slot frees
	stDrain     // the api has relayed every event: the stream ends
)

// step is one step of a scenario. cpu is the mean demand (core-seconds) at
// the step's station; n is statements or commands; lat the mean of a remote
// latency; commit says whether a transaction writes (and so flushes WAL);
// api is Python work done while a transaction is open.
type step struct {
	kind   stepKind
	cpu    float64
	n      int
	lat    float64
	commit bool
	api    float64 // api CPU between a transaction's first statement and the rest
}

// scenario is what one virtual user's request does, in order.
type scenario struct {
	name   string
	steps  []step
	reqMiB float64 // api memory held per in-flight request
}

// scenariosOf is the scenarios of a topology.
func scenariosOf(t topology) map[string]scenario {
	if t == inAPI {
		return scenarios
	}
	return workerScenarios
}

// The scenarios of the seed's Dify (before 1.13: the api runs the graph).
// Demands are estimates fitted to the seed's table (MODEL.md lists them);
// the step structure follows what Dify's service API does for each call.
// The llm scenario is the chatflow with one LLM node on the hosted provider.
var scenarios = map[string]scenario{
	"chatflow": {name: "chatflow", reqMiB: 4, steps: chatSteps(0.0015, 0.004,
		step{kind: stAPI, cpu: 0.003}, // start node
		nodeRecord,
		step{kind: stAPI, cpu: 0.002}, // answer node, stream
		nodeRecord,
	)},
	"agent": {name: "agent", reqMiB: 6, steps: chatSteps(0.002, 0.005,
		step{kind: stAPI, cpu: 0.003}, // keyword check (if/else)
		nodeRecord,
		step{kind: stAPI, cpu: 0.003},
		step{kind: stOllama, cpu: 0.008},             // function-calling decision
		step{kind: stPlugin, cpu: 0.0035},            // current time tool
		step{kind: stPlugin, cpu: 0.0077, lat: 0.25}, // weather plugin and its API
		nodeRecord,
		step{kind: stAPI, cpu: 0.003},
		step{kind: stHTTP2, cpu: 0.001, lat: 0.2},
		nodeRecord,
		step{kind: stAPI, cpu: 0.005}, // merge, stream
		nodeRecord,
	)},
	"llm": {name: "llm", reqMiB: 5, steps: chatSteps(0.0015, 0.004,
		step{kind: stAPI, cpu: 0.003},
		nodeRecord,
		step{kind: stAPI, cpu: llmNodeCPU},      // prompt, model instance
		step{kind: stLLM, cpu: pluginInvokeCPU}, // the provider streams the answer
		nodeRecord,
		step{kind: stAPI, cpu: 0.002},
		nodeRecord,
	)},
	"retrieval": {name: "retrieval", reqMiB: 5, steps: []step{
		{kind: stNginx, cpu: 0.0012},
		{kind: stSlot},
		{kind: stAPI, cpu: 0.005},
		{kind: stSession},
		{kind: stHot, cpu: 0.0005},
		{kind: stAPI, cpu: 0.004},
		{kind: stTxn, n: 2, cpu: 0.0015}, // dataset, retrieval settings
		{kind: stEmbed, cpu: 0.023},
		{kind: stSearch, cpu: 0.0195},
		{kind: stTxn, n: 2, cpu: 0.003}, // segments and documents by id
		{kind: stAPI, cpu: 0.009},       // records, JSON
		{kind: stTxn, n: 1, cpu: 0.0005, commit: true},
		{kind: stFirstByte}, // a plain JSON response
	}},
}

// nodeRecord is a node execution's record, written beside the graph's
// thread (the pre-1.13 api's side session).
var nodeRecord = step{kind: stSideTxn, n: 2, cpu: 0.0013, commit: true, api: 0.001}

// chatSteps is a chat app's request on the pre-1.13 api: the same head
// (route, authenticate, write the conversation and message, start the
// graph's thread, workflow_started and its run record), the graph's nodes,
// then the same tail (save the answer, clear the stop flags, message_end
// costing endAPI, the post-run task). nginxCPU is the proxy's share.
func chatSteps(nginxCPU, endAPI float64, nodes ...step) []step {
	head := []step{
		{kind: stNginx, cpu: nginxCPU},
		{kind: stSlot},
		{kind: stAPI, cpu: 0.005}, // routing, auth, request parsing
		{kind: stSession},
		{kind: stHot, cpu: 0.0005},
		{kind: stAPI, cpu: 0.004}, // app model
		{kind: stTxn, n: 3, cpu: 0.0026, commit: true, api: 0.003}, // conversation + message
		{kind: stRedis, n: 8, lat: 3},                              // rate limit, stop flag, queue
		{kind: stAPI, cpu: 0.005},                                  // workflow start
		{kind: stSessionEnd},                                       // closed before streaming
		{kind: stFlowStart},                                        // the graph engine's thread, held while an LLM streams
		{kind: stFirstByte},                                        // workflow_started event
		nodeRecord,                                                 // workflow run record
	}
	tail := []step{
		{kind: stFlowEnd},
		{kind: stShortTxn, n: 2, cpu: 0.00165, commit: true, api: 0.001}, // message answer
		{kind: stRedis, n: 4, lat: 2},
		{kind: stAPI, cpu: endAPI}, // message_end, teardown
		{kind: stTask, cpu: 0.002},
	}
	return joinSteps(head, nodes, tail)
}

// apiHead is what the api does for a workflow-based app since 1.13
// (AppGenerateService.generate): route, authenticate (the API token's
// last_used_at is no longer written per request: a Celery beat task batches
// it, API_TOKEN_LAST_USED_UPDATE_INTERVAL), read the app and end user,
// close the session, subscribe to the run's topic and enqueue the task.
func apiHead(reqAPI float64) []step {
	return []step{
		{kind: stNginx, cpu: 0.0015},
		{kind: stSlot},
		{kind: stAPI, cpu: 0.005}, // routing, auth, request parsing
		{kind: stSession},
		{kind: stTxn, n: 2, cpu: 0.0012}, // API token, app, end user (reads)
		{kind: stAPI, cpu: reqAPI},       // app model, workflow, task payload
		{kind: stSessionEnd},
		{kind: stSubscribe},
		{kind: stEnqueue},
	}
}

// taskHead is what workflow_based_app_execution_task does before the graph
// runs: load the workflow, app and user, set the generator up, write the
// conversation, message and workflow run, publish workflow_started.
var taskHead = []step{
	{kind: stWAPI, cpu: 0.006},                      // deserialise, app context
	{kind: stWTxn, n: 3, cpu: 0.0015},               // workflow, app, end user
	{kind: stWAPI, cpu: 0.008},                      // generator: graph, variable pool, queue manager
	{kind: stWTxn, n: 3, cpu: 0.0026, commit: true}, // conversation + message
	{kind: stWTxn, n: 2, cpu: 0.0013, commit: true}, // workflow run
	{kind: stPublish, n: 1},                         // workflow_started
}

// taskTail ends the run: the answer and the finished run written,
// workflow_finished and message_end published, the slot freed, the
// stream's last event relayed.
var taskTail = []step{
	{kind: stWTxn, n: 2, cpu: 0.00165, commit: true}, // message answer, run finished
	{kind: stPublish, n: 2},
	{kind: stWAPI, cpu: 0.003}, // teardown
	{kind: stTaskEnd},
	{kind: stDrain},
	{kind: stAPI, cpu: 0.002}, // close the stream
}

func joinSteps(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// node is one graph node in the worker: its work, its execution record,
// its started/finished events (plus any it streams).
func node(cpu float64, events int) []step {
	return []step{
		{kind: stWAPI, cpu: cpu},
		{kind: stWTxn, n: 2, cpu: 0.0013, commit: true},
		{kind: stPublish, n: events},
	}
}

// The scenarios of today's Dify (1.13 and later: a Celery worker runs the
// graph). The api's and the worker's demands are estimates fitted to the
// Enterprise benchmark (MODEL.md); retrieval is not a workflow and stays
// in the api.
var workerScenarios = map[string]scenario{
	"chatflow": {name: "chatflow", reqMiB: 3, steps: joinSteps(apiHead(0.004), taskHead,
		node(0.003, 2), // start
		node(0.002, 3), // answer: started, the answer chunk, finished
		taskTail)},
	"agent": {name: "agent", reqMiB: 4, steps: joinSteps(apiHead(0.004), taskHead,
		node(0.003, 2), // start
		node(0.003, 2), // keyword check (if/else)
		[]step{
			{kind: stWAPI, cpu: 0.003},
			{kind: stOllama, cpu: 0.008},             // function-calling decision
			{kind: stPlugin, cpu: 0.0035},            // current time tool
			{kind: stPlugin, cpu: 0.0077, lat: 0.25}, // weather plugin and its API
		},
		node(0.003, 2),
		[]step{{kind: stHTTP2, cpu: 0.001, lat: 0.2}},
		node(0.003, 2),
		node(0.005, 3), // merge, answer
		taskTail)},
	"llm": {name: "llm", reqMiB: 3, steps: joinSteps(apiHead(0.004), taskHead,
		node(0.003, 2), // start
		[]step{
			{kind: stWAPI, cpu: llmNodeCPU},     // prompt, model instance
			{kind: stPublish, n: 1},             // node_started
			{kind: stLLM, cpu: pluginInvokeCPU}, // the provider streams the answer
			{kind: stWTxn, n: 2, cpu: 0.0013, commit: true},
			{kind: stPublish, n: 1}, // node_finished
		},
		node(0.002, 2), // answer
		taskTail)},
	"retrieval": {name: "retrieval", reqMiB: 5, steps: []step{
		{kind: stNginx, cpu: 0.0012},
		{kind: stSlot},
		{kind: stAPI, cpu: 0.005},
		{kind: stSession},
		{kind: stAPI, cpu: 0.004},
		{kind: stTxn, n: 3, cpu: 0.002}, // API token, dataset, retrieval settings
		{kind: stEmbed, cpu: 0.023},
		{kind: stSearch, cpu: 0.0195},
		{kind: stTxn, n: 2, cpu: 0.003},
		{kind: stAPI, cpu: 0.009},
		{kind: stTxn, n: 1, cpu: 0.0005, commit: true},
		{kind: stFirstByte},
	}},
}

// request is one call in flight.
type request struct {
	r       *run
	u       *user
	sc      *scenario
	i       int
	start   float64
	ttfb    float64
	proc    *apiProc
	session bool
	flow    bool // holds the workflow thread's connection
	over    bool // finished or failed: late callbacks do nothing
	gone    bool // the client timed out and went on

	wproc    *apiProc // the worker process running the task, while it runs
	relays   int      // event batches the api is still relaying
	draining bool     // waiting for relays to end the stream
	first    bool     // the first byte (event) reached the client

	// Live requests (from Live.Do) report here instead of to a user.
	onFirst func()
	onDone  func(kind string)
	// onTokens, if set, hears each batch of an LLM node's answer tokens as
	// it is published.
	onTokens func(n int)

	// The two continuations, bound once: a method value allocates each time
	// it is taken, and every step takes one.
	nextFn func()
	contFn func(kind string)
}

// cont continues q after a step that may fail with an error kind.
func (q *request) cont(kind string) {
	if kind != "" {
		q.finish(kind)
		return
	}
	q.next()
}

// next runs the step after the current one (or finishes).
func (q *request) next() {
	if q.over || q.r.stopped {
		return
	}
	q.i++
	if q.i >= len(q.sc.steps) {
		q.finish("")
		return
	}
	r := q.r
	s := q.sc.steps[q.i]
	e := &r.e
	switch s.kind {
	case stNginx:
		e.after(e.rtt, func() { r.reserved.add(e.work(s.cpu), q.nextFn) })
	case stSlot:
		r.pods[e.rng.IntN(len(r.pods))].admit(q)
	case stAPI:
		q.proc.cpu.add(e.work(s.cpu), q.nextFn)
	case stSession:
		q.proc.pool.checkout(func(kind string) {
			if kind == "" {
				q.session = true
			}
			q.cont(kind)
		})
	case stHot:
		r.hotTxn(s.cpu, q.contFn)
	case stTxn, stSideTxn:
		r.txn(s.n, s.cpu, s.commit, q.mid(s), q.contFn)
	case stFlowStart:
		q.proc.pool.checkout(func(kind string) {
			if kind == "" {
				q.flow = true
			}
			q.cont(kind)
		})
	case stSessionEnd:
		q.session = false
		q.proc.pool.release()
		q.next()
	case stShortTxn:
		pool := q.proc.pool
		pool.checkout(func(kind string) {
			if kind != "" {
				q.cont(kind)
				return
			}
			r.txn(s.n, s.cpu, s.commit, q.mid(s), func(kind string) {
				pool.release()
				q.cont(kind)
			})
		})
	case stFlowEnd:
		q.flow = false
		q.proc.pool.release()
		q.next()
	case stRedis:
		e.after(s.lat*e.rtt, func() { r.redis.add(e.work(float64(s.n)*redisOpCPU), q.nextFn) })
	case stFirstByte:
		q.first = true
		q.ttfb = e.now - q.start
		if q.onFirst != nil {
			q.onFirst()
		}
		q.next()
	case stPlugin:
		p := r.plugins[e.rng.IntN(len(r.plugins))]
		e.after(2*e.rtt, func() {
			p.add(e.work(s.cpu), func() {
				if s.lat > 0 {
					e.after(e.lognormal(s.lat, 0.5), q.nextFn)
					return
				}
				q.next()
			})
		})
	case stOllama:
		if r.ollama == nil { // a hosted model: a short completion's latency
			e.after(e.lognormal(r.llm.TTFT.Seconds()+decisionTokens/r.llm.TokensPerSecond, 0.3), q.nextFn)
			return
		}
		e.after(e.rtt, func() { r.ollama.add(e.work(s.cpu), q.nextFn) })
	case stEmbed:
		if r.xinference == nil { // a hosted embedding API
			e.after(e.lognormal(r.k.HostedEmbedding.Seconds(), 0.3), q.nextFn)
			return
		}
		e.after(e.rtt, func() { r.xinference.add(e.work(s.cpu), q.nextFn) })
	case stSearch:
		d := e.work(s.cpu) * r.weaviateSlowdown()
		e.after(e.rtt, func() { r.weaviate.add(d, q.nextFn) })
	case stHTTP2:
		left := 2
		for range 2 {
			r.reserved.add(e.work(s.cpu), func() {
				e.after(e.lognormal(s.lat, 0.5), func() {
					if left--; left == 0 {
						q.next()
					}
				})
			})
		}
	case stTask:
		w := r.wpods[e.rng.IntN(len(r.wpods))].procs[0]
		w.cpu.add(e.work(s.cpu), func() { r.pg.query(2, taskPGCPU, true, 0, func() {}) })
		q.next()
	case stSubscribe:
		e.after(e.rtt, func() { r.redis.add(e.work(redisOpCPU), q.nextFn) })
	case stEnqueue:
		// LPUSH of the task message (and its result key): then the run waits
		// in Celery's queue for a worker slot; dispatch continues it there.
		e.after(e.rtt, func() {
			r.redis.add(e.work(enqueueCommands*redisOpCPU), func() {
				r.tasks = append(r.tasks, q)
				r.dispatch()
			})
		})
	case stWAPI:
		q.wproc.cpu.add(e.work(s.cpu), q.nextFn)
	case stWTxn:
		pool := q.wproc.pool
		pool.checkout(func(kind string) {
			if kind != "" {
				q.cont(kind)
				return
			}
			r.txn(s.n, s.cpu, s.commit, nil, func(kind string) {
				pool.release()
				q.cont(kind)
			})
		})
	case stPublish:
		q.publish(s.n, q.nextFn)
	case stLLM:
		q.llmStream(s, q.nextFn)
	case stTaskEnd:
		q.endTask()
		q.next()
	case stDrain:
		if q.relays > 0 {
			q.draining = true
			return
		}
		q.next()
	}
}

// mid is the api work inside a transaction of step s, if it has any.
func (q *request) mid(s step) func(func()) {
	if s.api <= 0 {
		return nil
	}
	return func(cont func()) { q.proc.cpu.add(q.r.e.work(s.api), cont) }
}

// finish ends q: success when kind is "", else a failure of that kind. It
// gives back the connection and the slot, records the outcome unless the
// client already gave up, and lets the user think and go again.
func (q *request) finish(kind string) {
	if q.over {
		return
	}
	q.over = true
	r := q.r
	q.endTask() // a failed run frees its worker slot
	release := func() {
		if q.session {
			q.proc.pool.release()
		}
		if q.flow {
			q.proc.pool.release()
		}
		if q.proc != nil {
			q.proc.pod.leave(q.proc, q)
		}
	}
	if kind != "" && kind != "timeout" && q.session {
		// Dify logs the traceback and marks the message (and workflow run)
		// failed before answering 500: work a failure still costs.
		q.proc.cpu.add(r.e.work(errorHandlingCPU), func() {
			r.txn(2, errorRecordCPU, true, nil, func(string) { release() })
		})
	} else {
		release()
	}
	if q.onDone != nil {
		q.onDone(kind)
		return
	}
	if q.gone {
		return
	}
	r.record(q, kind)
	q.u.think()
}

// user is one closed-loop virtual user: request, think, repeat, always
// its part's scenario (in a mixed load, one app's user).
type user struct {
	r    *run
	sc   *scenario
	part int // index in run.scs
}

func (u *user) think() {
	e := &u.r.e
	d := u.r.thinkMin + e.rng.Float64()*(u.r.thinkMax-u.r.thinkMin)
	e.after(d, u.send)
}

func (u *user) send() {
	r := u.r
	if r.stopped {
		return
	}
	q := &request{r: r, u: u, sc: u.sc, i: -1, start: r.e.now}
	q.nextFn, q.contFn = q.next, q.cont
	r.watch(q)
	q.next()
}

// watch arms the client's timeout for q. Every request has the same
// timeout, so deadlines come in order: one FIFO and one timer serve them all
// instead of an event per request.
func (r *run) watch(q *request) {
	r.pending = append(r.pending, q)
	if r.timeout < 0 {
		r.timeout = r.e.newItem(r.expire, true)
	}
	if r.e.items[r.timeout].idx < 0 {
		r.e.schedule(r.timeout, q.start+clientTimeout)
	}
}

// expire fails every request whose deadline has passed (the client gives up
// and goes on; the server keeps working on it) and re-arms for the next.
func (r *run) expire() {
	for len(r.pending) > 0 {
		q := r.pending[0]
		if !q.over && q.start+clientTimeout > r.e.now {
			r.e.schedule(r.timeout, q.start+clientTimeout)
			return
		}
		r.pending[0] = nil
		r.pending = r.pending[1:]
		if !q.over && !q.gone {
			q.gone = true
			r.record(q, "timeout")
			q.u.think()
		}
	}
}
