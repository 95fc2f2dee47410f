package sim

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tune-dify/tune/spaces"
)

// alloc is a service's allocation in model units.
type alloc struct {
	replicas int
	cores    float64
	mib      float64
}

func allocOf(rd *reader, name string) (alloc, error) {
	rd.note(name)
	a, ok := rd.sys.Services[name]
	if !ok {
		d := defaultAllocs[name]
		return alloc{int(d[0]), d[1], d[2]}, nil
	}
	if a.Replicas < 1 || a.CPU <= 0 || a.Memory <= 0 {
		return alloc{}, fmt.Errorf("%w: service %s: replicas %d, cpu %dm, memory %d MiB must be positive",
			ErrBadSystem, name, a.Replicas, a.CPU, a.Memory)
	}
	return alloc{a.Replicas, a.CPU.Cores(), float64(a.Memory)}, nil
}

// newRun builds the stations of sys and schedules the users of w. In a
// mixed load each user runs one part's scenario for all its requests, the
// users split by weight in spawn order (spaces.Split).
func newRun(seed int64, sys spaces.System, w spaces.Workload, k Constants) (*run, error) {
	r, users, spawn, err := build(seed, sys, w, k, &reader{sys: sys})
	if err != nil || r.stopped {
		return r, err
	}
	split := spaces.NewSplit(w.Parts())
	for i := range users {
		part := split.Of(i)
		u := &user{r: r, part: part, sc: r.scs[part]}
		if r.parts != nil {
			r.parts[part].users++
		}
		r.e.at(float64(i)/spawn, u.send)
	}
	return r, nil
}

// build builds the stations of sys for w's scenario and sets the measured
// window; it returns w's users and spawn rate with their defaults. A pod
// that cannot even start (OOM) leaves r stopped with r.err set. Every
// setting and service it reads goes through rd.
func build(seed int64, sys spaces.System, w spaces.Workload, k Constants, rd *reader) (r *run, users int, spawn float64, err error) {
	if err := k.check(); err != nil {
		return nil, 0, 0, err
	}
	topo := topologyOf(sys.Dify)
	var scs []*scenario
	for _, p := range w.Parts() {
		sc, ok := scenariosOf(topo)[p.Scenario]
		if !ok {
			return nil, 0, 0, fmt.Errorf("%w: unknown scenario %q (want one of %s)", ErrBadSystem, p.Scenario, strings.Join(spaces.Scenarios, ", "))
		}
		if p.Weight < 1 {
			return nil, 0, 0, fmt.Errorf("%w: scenario %s weighs %d (want ≥ 1)", ErrBadSystem, p.Scenario, p.Weight)
		}
		scs = append(scs, &sc)
	}
	users, spawn, dur := w.Users, w.SpawnRate, w.Duration.Seconds()
	if users == 0 {
		users = defaultUsers
	}
	if spawn == 0 {
		spawn = defaultSpawnRate
	}
	if dur == 0 {
		dur = defaultDuration
	}
	tmin, tmax := w.ThinkMin.Seconds(), w.ThinkMax.Seconds()
	if tmin == 0 && tmax == 0 {
		tmin, tmax = defaultThinkMin, defaultThinkMax
	}
	llm := w.LLM.OrDefault()
	if users < 0 || spawn < 0 || dur < 0 || tmin < 0 || tmax < tmin || llm.TTFT < 0 || llm.TokensPerSecond <= 0 || llm.AnswerTokens < 1 {
		return nil, 0, 0, fmt.Errorf("%w: workload users %d, spawn rate %g, duration %v, think %v..%v, llm %+v",
			ErrBadSystem, w.Users, w.SpawnRate, w.Duration, w.ThinkMin, w.ThinkMax, w.LLM)
	}

	r = &run{
		e: newEngine(seed, sys, w), sc: scs[0], scs: scs, k: k, topo: topo, llm: llm, thinkMin: tmin, thinkMax: tmax,
		total: newHist(), ttfb: newHist(), errs: map[string]int{}, timeout: -1,
	}
	if len(scs) > 1 {
		for _, sc := range scs {
			r.parts = append(r.parts, &partStats{name: sc.name, total: newHist(), ttfb: newHist()})
		}
	}
	r.e.rtt, r.e.speed = k.RTT.Seconds(), k.CPUSpeed
	ramp := float64(users) / spawn
	r.t0, r.t1 = ramp, ramp+dur

	get := func(name string) alloc {
		a, err := allocOf(rd, name)
		if err != nil && r.err == nil {
			r.err = err
		}
		return a
	}
	api, worker, plugin := get("api"), get("worker"), get("pluginDaemon")
	pgA, weav, redis := get("postgresql"), get("weaviate"), get("redis")
	var xinf, oll alloc
	hasXinf, hasOll := rd.has("xinference"), rd.has("ollama")
	if hasXinf {
		xinf = get("xinference")
	}
	if hasOll {
		oll = get("ollama")
	}
	var side alloc // the side components a space lists with their own allocation
	for _, n := range sideServices {
		if rd.has(n) {
			a := get(n)
			side.cores += a.total()
			side.mib += float64(a.replicas) * a.mib
		}
	}
	if r.err != nil {
		return nil, 0, 0, r.err
	}

	workers := int(rd.int(setWorkers, defaultWorkers))
	poolSize := int(rd.int(setDBPool, defaultDBPoolSize))
	overflow := int(rd.int(setDBOverflow, dbPoolOverflow))
	slots := int(rd.int(setWorkerConns, defaultWorkerConns))
	concurrency := int(rd.int(setConcurrency, defaultConcurrency))
	maxConns := int(rd.int(setPGMaxConns, pgMaxConnections))
	if workers < 1 || poolSize < 1 || slots < 1 || overflow < 0 || concurrency < 1 || maxConns <= pgSuperuserReserved {
		return nil, 0, 0, fmt.Errorf("%w: %s %d, %s %d, %s %d, %s %d and %s %d must be ≥ 1, %s %d ≥ 0, %s %d > %d",
			ErrBadSystem, setWorkers, workers, setDBPool, poolSize, setWorkerConns, slots, setConcurrency, concurrency,
			setPGMaxConns, maxConns, setDBOverflow, overflow, setPGMaxConns, maxConns, pgSuperuserReserved)
	}
	storage := rd.str(setStorage, defaultStorageClass)
	placement := rd.str(setPlacement, defaultPlacement)
	mode := rd.str(setPgbPoolMode, defaultPgbPoolMode)
	pgbOn := rd.bool(setPgbEnabled, false)
	pgbSize := int(rd.int(setPgbPoolSize, defaultPgbPoolSize))
	fsync, ok := map[string][2]float64{
		"nfs":       {k.FsyncNFS.Seconds(), fsyncNFSSigma},
		"local-ssd": {k.FsyncSSD.Seconds(), fsyncSSDSigma},
		"default":   {k.FsyncDefault.Seconds(), fsyncDefaultSigma},
	}[storage]
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: %s %q (want default, nfs or local-ssd)", ErrBadSystem, setStorage, storage)
	}
	if placement != "shared" && placement != "dedicated" {
		return nil, 0, 0, fmt.Errorf("%w: %s %q (want shared or dedicated)", ErrBadSystem, setPlacement, placement)
	}
	if mode != "transaction" && mode != "session" {
		return nil, 0, 0, fmt.Errorf("%w: %s %q (want transaction or session)", ErrBadSystem, setPgbPoolMode, mode)
	}

	e := &r.e
	resCores := sys.Reserved.CPU.Cores()
	resMiB := float64(sys.Reserved.Memory)
	if sys.Reserved.CPU == 0 && sys.Reserved.Memory == 0 && side.cores == 0 {
		resCores, resMiB = 1, 2048 // the seed space's reservation
	}
	resCores += side.cores
	resMiB += side.mib
	// The untuned components idle at reservedBGCores; nginx and ssrf-proxy
	// get what is left (effect 8), never quite nothing (CFS shares).
	r.reserved = newPS(e, math.Max(0.05, resCores-reservedBGCores), math.Inf(1))

	for range api.replicas {
		r.pods = append(r.pods, newAPIPod(r, api.cores, api.mib, workers, slots, poolSize, overflow))
	}
	r.pg = &postgres{r: r, cpu: newPS(e, pgA.cores, 1), limit: maxConns - pgSuperuserReserved,
		memLimit: pgA.mib, fsyncMean: fsync[0], fsyncSigma: fsync[1]}
	r.pg.wal.pg = r.pg
	if pgbOn {
		r.pgb = &pgbouncer{r: r, transaction: mode == "transaction", size: pgbSize}
		if r.pgb.size < 1 {
			return nil, 0, 0, fmt.Errorf("%w: %s %d must be ≥ 1", ErrBadSystem, setPgbPoolSize, r.pgb.size)
		}
	}
	// Redis executes commands on one thread.
	r.redis = newPS(e, math.Min(redis.cores, 1), 1)
	r.redisCores = redis.cores
	r.resCores = resCores
	for range worker.replicas {
		r.wpods = append(r.wpods, newWorkerPod(r, worker.cores, worker.mib, concurrency))
	}
	for range plugin.replicas {
		r.plugins = append(r.plugins, newPS(e, plugin.cores, 1))
	}
	r.weaviate = newPS(e, weav.cores, 1)
	r.weaviate.own = true
	r.shared = placement == "shared"
	if hasXinf {
		// One embedding at a time, torch spreading it over the pod's cores.
		sp := math.Pow(xinf.cores, xinferenceScaling)
		r.xinference = newPS(e, sp, sp)
	}
	if hasOll {
		r.ollama = newPS(e, oll.cores, oll.cores)
	}

	r.budgetCores = sys.Budget.Total.CPU.Cores()
	if r.budgetCores <= 0 {
		r.budgetCores = resCores + api.total() + worker.total() + plugin.total() + pgA.total() +
			weav.total() + redis.total() + xinf.total() + oll.total()
	}

	// Memory each pod needs before any load (effect 7).
	for _, c := range []struct {
		name        string
		need, limit float64
		present     bool
	}{
		{"reserved", reservedNeedMiB, resMiB, true},
		{"api", apiPodBaseMiB + float64(workers)*r.k.APIProcessMiB, api.mib, true},
		{"worker", r.k.WorkerProcessMiB, worker.mib, true},
		{"pluginDaemon", pluginMiB, plugin.mib, true},
		{"postgresql", pgBaseMiB, pgA.mib, true},
		{"weaviate", weaviateMiB, weav.mib, true},
		{"redis", redisMiB, redis.mib, true},
		{"xinference", xinferenceMiB, xinf.mib, hasXinf},
		{"ollama", ollamaMiB, oll.mib, hasOll},
	} {
		if c.present && c.need > c.limit {
			r.oom(c.name, c.need, c.limit)
			return r, users, spawn, nil
		}
	}

	// Background clients hold their connections from the start: the plugin
	// daemon's and beat's always, the worker's only before 1.13 (since, its
	// tasks open them through their pools as they run).
	r.pg.backends = plugin.replicas*bgConnsPerPlugin + bgConnsOther
	if topo == inAPI {
		r.pg.backends += worker.replicas * bgConnsPerWorker
	}
	return r, users, spawn, nil
}

func (a alloc) total() float64 { return float64(a.replicas) * a.cores }

// weaviateSlowdown is how much longer a search takes because Weaviate shares
// its node: vector search is memory-bandwidth and cache bound, so it slows
// with the CPU its neighbours burn (effect 6). A dedicated node removes it.
func (r *run) weaviateSlowdown() float64 {
	if !r.shared {
		return 1
	}
	return 1 + weaviateContend*math.Min(1, r.e.busyCores/r.budgetCores)
}

type serviceStations struct {
	stations []*ps
	den      float64 // station capacity in the stations' own units
	extra    float64 // cores always in use (reserved pool's idle components)
}

// byService groups stations by service name for utilisation (the api and
// the worker are measured by their pods' CPU quota instead).
func (r *run) byService() map[string]serviceStations {
	out := map[string]serviceStations{}
	sum := func(ps []*ps) (t float64) {
		for _, p := range ps {
			t += p.total
		}
		return t
	}
	out["reserved"] = serviceStations{[]*ps{r.reserved}, r.resCores, reservedBGCores}
	out["postgresql"] = serviceStations{[]*ps{r.pg.cpu}, r.pg.cpu.total, 0}
	out["redis"] = serviceStations{[]*ps{r.redis}, r.redisCores, 0}
	out["weaviate"] = serviceStations{[]*ps{r.weaviate}, r.weaviate.total, 0}
	if r.xinference != nil {
		out["xinference"] = serviceStations{[]*ps{r.xinference}, r.xinference.total, 0}
	}
	if r.ollama != nil {
		out["ollama"] = serviceStations{[]*ps{r.ollama}, r.ollama.total, 0}
	}
	out["pluginDaemon"] = serviceStations{r.plugins, sum(r.plugins), 0}
	return out
}

// stations lists every station in a fixed order.
func (r *run) stations() []*ps {
	out := []*ps{r.reserved, r.pg.cpu, r.redis, r.weaviate}
	if r.xinference != nil {
		out = append(out, r.xinference)
	}
	if r.ollama != nil {
		out = append(out, r.ollama)
	}
	for _, p := range append(slices.Clone(r.pods), r.wpods...) {
		for _, pr := range p.procs {
			out = append(out, pr.cpu)
		}
	}
	out = append(out, r.plugins...)
	return out
}
