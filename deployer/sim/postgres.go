package sim

// postgres is PostgreSQL: a processor-sharing CPU (each backend is one
// process, so a query never runs faster than one core), a connection limit,
// per-backend memory, a WAL flusher with group commit and the one hot row
// every request updates.
type postgres struct {
	r        *run
	cpu      *ps
	backends int // open backends, including the background clients'
	limit    int // max_connections − superuser_reserved_connections (postgresql.maxConnections)
	memLimit float64
	// fsyncMean and fsyncSigma are the WAL flush's lognormal on the data
	// volume's storage class.
	fsyncMean, fsyncSigma float64
	wal                   walFlusher
	hotRow                mutex
}

// query runs n statements costing cpu core-seconds in all, then a commit
// (WAL flush) when commit is set. extraHop is a proxy's added latency per
// statement. Per-statement CPU grows with the square of the open backends'
// share of max_connections: snapshots scan the proc array, and contention on
// the shared lock partitions grows with sessions as well as with their
// number, the collapse PostgreSQL shows far above cores × a few backends.
func (pg *postgres) query(n int, cpu float64, commit bool, extraHop float64, done func()) {
	e := &pg.r.e
	e.after(float64(n)*(e.rtt+extraHop), func() {
		b := float64(pg.backends) / pgBackendScale
		d := e.work(cpu) * (1 + pgBackendSlowdown*b*b)
		pg.cpu.add(d, func() {
			if commit {
				pg.wal.commit(done)
				return
			}
			done()
		})
	})
}

// open starts a backend; ok is false (and the attempt costs a rejection) when
// max_connections is reached — "FATAL: sorry, too many clients already".
func (pg *postgres) open(ok func(bool)) {
	e := &pg.r.e
	e.after(e.rtt, func() {
		if pg.backends >= pg.limit {
			pg.cpu.add(pgRejectCPU, func() { ok(false) })
			return
		}
		pg.backends++
		if need := pgBaseMiB + float64(pg.backends)*pg.r.k.PGBackendMiB; need > pg.memLimit {
			pg.r.oom("postgresql", need, pg.memLimit)
			return
		}
		pg.cpu.add(e.work(pgConnectCPU), func() { ok(true) })
	})
}

func (pg *postgres) close() { pg.backends-- }

// walFlusher is group commit: one flush at a time; commits that arrive
// during a flush are all covered by the next one.
type walFlusher struct {
	pg    *postgres
	busy  bool
	next  []func()
	spare []func() // the last batch's slice, reused
}

func (w *walFlusher) commit(done func()) {
	w.next = append(w.next, done)
	if !w.busy {
		w.flush()
	}
}

func (w *walFlusher) flush() {
	e := &w.pg.r.e
	batch := w.next
	w.next, w.spare = w.spare[:0], nil
	w.busy = true
	d := e.lognormal(w.pg.fsyncMean, w.pg.fsyncSigma)
	e.after(d, func() {
		w.busy = false
		for i, f := range batch {
			batch[i] = nil
			f()
		}
		if w.spare == nil {
			w.spare = batch[:0]
		}
		if len(w.next) > 0 && !w.busy {
			w.flush()
		}
	})
}

// pgbouncer is the connection pooler: server connections (PostgreSQL
// backends) up to poolSize, opened lazily and kept; clients beyond them
// queue.
type pgbouncer struct {
	r           *run
	transaction bool
	size        int
	open, idle  int
	waiters     []*waiter
}

// waiter is a queued acquisition; done marks one already answered (served
// or timed out), so the other path does nothing.
type waiter struct {
	fn   func(kind string)
	done bool
}

// acquire gets a server connection; kind is "" on success, else the error.
func (b *pgbouncer) acquire(fn func(kind string)) {
	if b.idle > 0 {
		b.idle--
		fn("")
		return
	}
	if b.open < b.size {
		b.open++
		b.r.pg.open(func(ok bool) {
			if !ok {
				b.open--
				fn("db_too_many_connections")
				return
			}
			fn("")
		})
		return
	}
	w := &waiter{fn: fn}
	b.waiters = append(b.waiters, w)
	b.r.e.after(pgbouncerWaitTimeout, func() {
		if !w.done {
			w.done = true
			fn("pool_timeout")
		}
	})
}

func (b *pgbouncer) release() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		if !w.done {
			w.done = true
			w.fn("")
			return
		}
	}
	b.idle++
}

// sqlPool is SQLAlchemy's QueuePool in one api process: pool size kept
// connections plus max_overflow more opened on demand and closed on return;
// beyond that callers wait up to pool_timeout.
type sqlPool struct {
	r          *run
	size, max  int
	open, idle int
	waiters    []*waiter
}

func (p *sqlPool) checkout(fn func(kind string)) {
	if p.idle > 0 {
		p.idle--
		fn("")
		return
	}
	if p.open < p.max {
		p.open++
		p.r.connect(func(kind string) {
			if kind != "" {
				p.open--
			}
			fn(kind)
		})
		return
	}
	w := &waiter{fn: fn}
	p.waiters = append(p.waiters, w)
	p.r.e.after(poolTimeout, func() {
		if !w.done {
			w.done = true
			fn("pool_timeout")
		}
	})
}

func (p *sqlPool) release() {
	for len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		if !w.done {
			w.done = true
			w.fn("")
			return
		}
	}
	if p.open > p.size {
		p.open--
		p.r.disconnect()
		return
	}
	p.idle++
}

// connect opens what a pool's new connection costs: a backend, or a
// pgbouncer client connection (plus its server connection in session mode).
func (r *run) connect(fn func(kind string)) {
	if r.pgb == nil {
		r.pg.open(func(ok bool) {
			if !ok {
				fn("db_too_many_connections")
				return
			}
			fn("")
		})
		return
	}
	r.e.after(r.e.rtt, func() {
		if r.pgb.transaction {
			fn("")
			return
		}
		r.pgb.acquire(fn)
	})
}

func (r *run) disconnect() {
	switch {
	case r.pgb == nil:
		r.pg.close()
	case !r.pgb.transaction:
		r.pgb.release()
	}
}

// txn runs one transaction of n statements on a connection the caller holds.
// mid, when set, is the Python work the api does between the first
// statement and the rest (SQLAlchemy opened the transaction with the first
// statement, so the connection stays in the transaction meanwhile). In
// pgbouncer transaction mode the transaction first takes a server connection
// and gives it back at the end; too small a pool queues here.
func (r *run) txn(n int, cpu float64, commit bool, mid func(cont func()), done func(kind string)) {
	hop := 0.0
	if r.pgb != nil {
		hop = pgbouncerHop
	}
	body := func(end func()) {
		if mid == nil || n < 2 {
			r.pg.query(n, cpu, commit, hop, end)
			return
		}
		first := cpu / float64(n)
		r.pg.query(1, first, false, hop, func() {
			mid(func() { r.pg.query(n-1, cpu-first, commit, hop, end) })
		})
	}
	if r.pgb == nil || !r.pgb.transaction {
		body(func() { done("") })
		return
	}
	r.pgb.acquire(func(kind string) {
		if kind != "" {
			done(kind)
			return
		}
		body(func() {
			r.pgb.release()
			done("")
		})
	})
}

// hotTxn is the per-request UPDATE of the app token's last_used_at: every
// virtual user shares one token, so it is one row, and its lock is held
// until the commit's WAL flush returns.
func (r *run) hotTxn(cpu float64, done func(kind string)) {
	body := func(release func()) {
		r.pg.hotRow.lock(func() {
			hop := 0.0
			if r.pgb != nil {
				hop = pgbouncerHop
			}
			r.pg.query(1, cpu, true, hop, func() {
				r.pg.hotRow.unlock()
				release()
				done("")
			})
		})
	}
	if r.pgb != nil && r.pgb.transaction {
		r.pgb.acquire(func(kind string) {
			if kind != "" {
				done(kind)
				return
			}
			body(r.pgb.release)
		})
		return
	}
	body(func() {})
}
