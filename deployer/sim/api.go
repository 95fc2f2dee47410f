package sim

import "math"

// apiPod is one pod of Python processes under one CPU quota and one memory
// limit: a dify-api replica (gunicorn with `workers` gevent processes) or,
// with worker set, a Celery worker replica (one gevent pool process whose
// greenlets run tasks from the shared queue).
type apiPod struct {
	r        *run
	service  string
	worker   bool    // a Celery worker: takes tasks from run.tasks
	limit    float64 // CPU quota, cores
	memLimit float64
	procs    []*apiProc
	slots    int        // requests (or tasks) one process takes at once
	backlog  []*request // accepted by the kernel, not yet by a process
	inflight int
	held     float64 // memory the in-flight requests or tasks hold, MiB
	reqMiB   float64 // memory an in-flight task holds (a worker pod)
	baseMiB  float64 // the pod without its processes
	procMiB  float64 // one process after imports

	stalledUntil float64
	stalled      float64 // seconds stalled so far (collections)

	// CPU quota consumed (core-seconds), what cAdvisor reports: throttled
	// demand uses the whole quota even when part of it is lost.
	quota, quotaRate, quotaLast float64
}

// apiProc is one gunicorn worker process: a gevent loop whose greenlets share
// at most one core (the GIL), up to SERVER_WORKER_CONNECTIONS requests at a time,
// with its own SQLAlchemy pool.
type apiProc struct {
	pod   *apiPod
	cpu   *ps
	slots int
	pool  *sqlPool
}

func newAPIPod(r *run, cores, memMiB float64, workers, slots, poolSize, overflow int) *apiPod {
	p := &apiPod{r: r, service: "api", limit: cores, memLimit: memMiB, slots: slots,
		baseMiB: apiPodBaseMiB, procMiB: r.k.APIProcessMiB}
	p.start(workers, poolSize, overflow)
	return p
}

// newWorkerPod is a Celery worker replica as Dify's entrypoint starts it:
// one gevent pool process (-P gevent) running up to concurrency tasks
// (-c CELERY_WORKER_AMOUNT), its greenlets sharing the GIL, with Dify's
// SQLAlchemy pool of its own.
func newWorkerPod(r *run, cores, memMiB float64, concurrency int) *apiPod {
	p := &apiPod{r: r, service: "worker", worker: true, limit: cores, memLimit: memMiB,
		slots: concurrency, baseMiB: 0, procMiB: r.k.WorkerProcessMiB, reqMiB: workerTaskMiB}
	p.start(1, defaultDBPoolSize, dbPoolOverflow)
	return p
}

func (p *apiPod) start(procs, poolSize, overflow int) {
	r := p.r
	for range procs {
		pr := &apiProc{pod: p, cpu: newPS(&r.e, 1, math.Inf(1))}
		pr.pool = &sqlPool{r: r, size: poolSize, max: poolSize + overflow}
		pr.cpu.onBusy = p.share
		p.procs = append(p.procs, pr)
	}
	p.share()
}

// rss is the pod's resident memory now: base, processes and in-flight
// requests (effect 7).
func (p *apiPod) rss() float64 {
	return p.baseMiB + float64(len(p.procs))*p.procMiB + p.held
}

// reqMem is the memory q holds in p while it is in flight: its scenario's
// per request in an api pod (a mixed load holds each scenario's own), the
// task's in a worker.
func (p *apiPod) reqMem(q *request) float64 {
	if p.worker {
		return p.reqMiB
	}
	return q.sc.reqMiB
}

// throttleEfficiency is the share of the CFS quota that turns into useful
// work when the pod's threads want `over` cores more than its quota: a
// throttled pod stalls every thread until the next 100 ms period, often
// while one holds the GIL, a pool connection or a row lock. The loss grows
// with the overshoot in cores (the work that finds the quota spent) and
// levels off at throttleMaxLoss: more workers than cores cost a steady
// share, never a collapse (effect 1).
func throttleEfficiency(over float64) float64 {
	if over <= 0 {
		return 1
	}
	z := over / throttleScale
	return 1 - throttleMaxLoss*(1-math.Exp(-z*z))
}

// share divides the pod's quota among its busy processes. A busy process
// wants one core (GIL) and the pod's other threads podOverheadCores.
func (p *apiPod) share() {
	busy := 0
	for _, pr := range p.procs {
		if pr.cpu.n() > 0 {
			busy++
		}
	}
	p.accrue()
	per := 1.0
	p.quotaRate = 0
	if p.r.e.now < p.stalledUntil {
		per = 0
		p.quotaRate = math.Min(1, p.limit) // the collector runs
	} else if busy > 0 {
		demand := float64(busy) + podOverheadCores
		p.quotaRate = math.Min(demand, p.limit)
		if demand > p.limit {
			per = p.limit * throttleEfficiency(demand-p.limit) / demand
		}
		// More runnable processes than cores: context switches and cold
		// caches take a share that grows with the processes per core.
		if crowd := float64(busy)/p.limit - 1; crowd > 0 {
			per /= 1 + contextSwitchCost*crowd
		}
	}
	for _, pr := range p.procs {
		pr.cpu.setTotal(per)
	}
}

func (p *apiPod) accrue() {
	p.quota += (p.r.e.now - p.quotaLast) * p.quotaRate
	p.quotaLast = p.r.e.now
}

// gc is a full collection in one of the pod's processes. It walks that
// process's heap, and the pod's memory cgroup reclaims while it does, which
// stalls every process of the pod for a time that grows with the
// collecting process's heap and with how close the pod is to its limit. The
// pod stalls once per gcEveryRequests of its requests, so its stalled share
// grows with its request rate (effect 3: one big pod stalls more often than
// several small ones), not with its process count: more workers than cores
// do not collapse.
func (p *apiPod) gc() {
	rss := p.rss()
	pressure := math.Max(0, rss/p.memLimit-0.5)
	heap := p.procMiB + p.held/float64(len(p.procs))
	d := p.r.k.GCStallPerGiB.Seconds() * heap / 1024 * (1 + gcPressureGain*pressure)
	until := p.r.e.now + p.r.e.work(d)
	if until <= p.stalledUntil {
		return
	}
	p.stalled += until - math.Max(p.r.e.now, p.stalledUntil)
	p.stalledUntil = until
	p.share()
	p.r.e.at(until, func() {
		if p.r.e.now >= p.stalledUntil {
			p.share()
		}
	})
}

// admit gives a request to the least-loaded process with a free slot (the
// gevent loop with least to do wins gunicorn's accept race), or queues it in
// the pod's backlog.
func (p *apiPod) admit(q *request) {
	var best *apiProc
	for _, pr := range p.procs {
		if pr.slots < p.slots && (best == nil || pr.slots < best.slots) {
			best = pr
		}
	}
	if best == nil {
		p.backlog = append(p.backlog, q)
		return
	}
	best.slots++
	p.inflight++
	p.held += p.reqMem(q)
	q.proc = best
	if need := p.rss(); need > p.memLimit {
		p.r.oom(p.service, need, p.memLimit)
		return
	}
	q.next()
}

// leave frees q's slot in pr, lets the backlog in and counts toward the
// next full collection.
func (p *apiPod) leave(pr *apiProc, q *request) {
	pr.slots--
	p.inflight--
	p.held -= p.reqMem(q)
	if p.r.e.rng.Float64() < 1.0/gcEveryRequests {
		p.gc()
	}
	if p.worker {
		p.r.dispatch()
		return
	}
	if len(p.backlog) > 0 {
		q := p.backlog[0]
		p.backlog = p.backlog[1:]
		p.admit(q)
	}
}
