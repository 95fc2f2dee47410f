package sim

import "github.com/tune-dify/tune/spaces"

// Reads is what the model reads of a System: the services whose allocation
// it models and the settings it acts on. A space's service or parameter that
// is not here changes nothing in the model; a name here that the space lacks
// runs at the model's default. Callers (tune validate, a study's start) say
// both by name instead of letting a rename pass silently.
type Reads struct {
	Services []string
	Settings []string
}

// ReadsFor is what the model reads for a space (its Dify version chooses the
// topology). Keep it in step with build: a test checks that every name build
// reads is declared here.
func ReadsFor(sp *spaces.Space) Reads {
	return Reads{
		Services: []string{"api", "worker", "pluginDaemon", "postgresql", "weaviate", "redis", "xinference", "ollama"},
		Settings: []string{
			"api.workers", "api.dbPoolSize", "api.workerConnections",
			"postgresql.storageClass", "weaviate.placement",
			"pgbouncer.enabled", "pgbouncer.poolMode", "pgbouncer.poolSize",
		},
	}
}
