package sim

import "math"

// Dify ≥ 1.13: workflow and chatflow runs execute in Celery workers. The
// api's AppGenerateService (api/services/app_generate_service.py)
// subscribes to the run's Redis topic, enqueues
// workflow_based_app_execution_task (api/tasks/app_generate/
// workflow_execute_task.py) from the subscription's on_subscribe and
// relays what the task publishes (api/core/app/apps/streaming_utils.py,
// stream_topic_events); the worker runs the graph and publishes each event
// on the topic (MessageGenerator.get_response_topic,
// api/core/app/apps/message_generator.py). The api's greenlet is held for
// the whole stream, the worker's pool slot for the whole run.

// dispatch gives queued runs to worker processes with a free slot: each
// Celery worker, with --prefetch-multiplier=1, takes the next message from
// the queue as soon as one of its pool slots frees; the least busy process
// wins the race.
func (r *run) dispatch() {
	for len(r.tasks) > 0 {
		var best *apiProc
		for _, p := range r.wpods {
			for _, pr := range p.procs {
				if pr.slots < p.slots && (best == nil || pr.slots < best.slots) {
					best = pr
				}
			}
		}
		if best == nil {
			return
		}
		q := r.tasks[0]
		r.tasks[0] = nil
		r.tasks = r.tasks[1:]
		p := best.pod
		best.slots++
		p.inflight++
		p.held += p.reqMem(q)
		q.wproc = best
		if need := p.rss(); need > p.memLimit {
			r.oom(p.service, need, p.memLimit)
			return
		}
		// BRPOP returns the message to the worker (one Redis command); the
		// task then starts: Celery's receipt and ack, the Flask app context.
		r.e.after(r.e.rtt, func() {
			r.redis.add(r.e.work(redisOpCPU), func() { r.e.after(r.e.lognormal(r.k.TaskStart.Seconds(), 0.3), q.nextFn) })
		})
	}
}

// endTask frees q's worker slot.
func (q *request) endTask() {
	if q.wproc != nil {
		pr := q.wproc
		q.wproc = nil
		pr.pod.leave(pr, q)
	}
}

// publish is the worker publishing n events on the run's topic: its CPU
// (serialise, PUBLISH), Redis's, then the api relaying them to the client
// (decode, SSE encode, write), which goes on while the worker moves on.
func (q *request) publish(n int, cont func()) {
	r, e := q.r, &q.r.e
	if q.wproc == nil { // before 1.13 the api's own pipeline streams them
		q.proc.cpu.add(e.work(float64(n)*(publishCPU+relayCPU)), cont)
		return
	}
	q.wproc.cpu.add(e.work(float64(n)*publishCPU), func() {
		r.redis.add(e.work(float64(n)*redisOpCPU), func() {
			q.relay(n)
			cont()
		})
	})
}

// relay is the api greenlet forwarding n events to the client; the first
// relayed event is the response's first byte the client reads.
func (q *request) relay(n int) {
	e := &q.r.e
	q.relays++
	e.after(e.rtt, func() {
		if q.proc == nil { // failed before it had a slot: nobody listens
			q.relays--
			return
		}
		q.proc.cpu.add(e.work(float64(n)*relayCPU), func() {
			q.relays--
			if !q.first {
				q.first = true
				q.ttfb = e.now - q.start
				if q.onFirst != nil {
					q.onFirst()
				}
			}
			if q.relays == 0 && q.draining {
				q.draining = false
				q.next()
			}
		})
	})
}

// llmStream is an LLM node: the invocation through the plugin daemon, the
// provider's time to the first token, then the answer's tokens at the
// provider's rate, each token a chunk the worker handles and publishes.
// The run holds its worker slot (and the api its greenlet) meanwhile, with
// no CPU: a slow model fills slots, not cores. Tokens are simulated in at
// most llmBatches batches (the same CPU and events, fewer callbacks).
func (q *request) llmStream(s step, cont func()) {
	r, e := q.r, &q.r.e
	tokens := r.llm.AnswerTokens
	batches := min(tokens, llmBatches)
	plugin := r.plugins[e.rng.IntN(len(r.plugins))]
	var batch func(i int)
	batch = func(i int) {
		if i == batches {
			cont()
			return
		}
		n := tokens/batches + btoi(i < tokens%batches)
		e.after(float64(n)/r.llm.TokensPerSecond, func() {
			plugin.add(e.work(float64(n)*pluginChunkCPU), func() {
				q.graph().cpu.add(e.work(float64(n)*llmChunkCPU), func() {
					q.publish(n, func() {
						if q.onTokens != nil {
							q.onTokens(n)
						}
						batch(i + 1)
					})
				})
			})
		})
	}
	e.after(2*e.rtt, func() {
		plugin.add(e.work(s.cpu), func() {
			e.after(math.Max(0, e.lognormal(r.llm.TTFT.Seconds()+1e-6, 0.3)), func() { batch(0) })
		})
	})
}

// graph is the process running q's graph: its worker's, or before 1.13
// its api process.
func (q *request) graph() *apiProc {
	if q.wproc != nil {
		return q.wproc
	}
	return q.proc
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
