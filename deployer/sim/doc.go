// Package sim is the embedded performance model of a Dify deployment: a
// seeded discrete-event simulation, in virtual time, of closed-loop virtual
// users against the stations of the stack (nginx, gunicorn/gevent api
// processes under a CFS quota, SQLAlchemy pools, pgbouncer, PostgreSQL with
// its WAL and connection limit, Redis, Celery, the plugin daemon, Weaviate
// and the model servers), calibrated on the seed's measurements. MODEL.md
// holds its equations, constants, omissions and calibration table.
//
// Model.Evaluate is deterministic in (Seed, System, Workload) and computes
// every figure from the mechanisms; nothing is looked up by configuration.
// A mixed load (Workload.Mix) splits the users among its scenarios by
// weight (spaces.Split), every request of a user its scenario's, all on
// the same stations; its figures are over all requests, each scenario's in
// Measurement.Scenarios.
//
// Two topologies, chosen by System.Dify: before Dify 1.13 the api runs
// workflows; from 1.13 Celery workers do, the api relaying their events
// from Redis. ReadsFor says what the model reads of a space; Constants,
// read from a what-if file by LoadOverrides, replace the figures a user may
// know better (disks, cores, memory).
//
// It owns the model and its calibration only. It must not import search,
// the results store, net/http, Helm or client-go: it reads spaces (System,
// Workload) and writes results.Measurement, nothing else (and reads
// overrides files with yaml.v3).
//
// Imports of this module: spaces and results.
// Never imports: net/http, helm.sh/helm, k8s.io.
package sim
