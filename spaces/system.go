package spaces

// Millicores is CPU in thousandths of a core. In YAML and configs it is
// written as cores ("2", 1.5) or millicores ("1500m").
type Millicores int64

// Cores is m in cores.
func (m Millicores) Cores() float64 { return float64(m) / 1000 }

// Mebibytes is memory in MiB. In YAML and configs it is written as "512Mi",
// "2Gi" or a plain number of MiB.
type Mebibytes int64

// Resources is an amount of CPU and memory.
type Resources struct {
	CPU    Millicores `json:"cpu"`
	Memory Mebibytes  `json:"memory"`
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPU: r.CPU + o.CPU, Memory: r.Memory + o.Memory}
}

// Times returns r × n.
func (r Resources) Times(n int) Resources {
	return Resources{CPU: r.CPU * Millicores(n), Memory: r.Memory * Mebibytes(n)}
}

// Fits reports whether r fits within capacity c.
func (r Resources) Fits(c Resources) bool { return r.CPU <= c.CPU && r.Memory <= c.Memory }

// Budget is the hardware a study may spend: "16c32g" (one pool, Nodes == 0)
// or a node pool "2x8c16g" (Nodes nodes of Node each).
type Budget struct {
	Name  string    // as the user wrote it
	Nodes int       // 0: no node structure
	Node  Resources // one node's capacity when Nodes > 0
	Total Resources
}

// Config is one value per parameter, keyed by parameter name ("api.replicas",
// "api.cpu", "api.workers", ...). Values are int64, float64, string or bool;
// "<svc>.cpu" is in cores (float64) and "<svc>.memory" in MiB (int64).
type Config map[string]any

// Alloc is what one service gets: replicas of a pod with CPU and memory
// (requests == limits).
type Alloc struct {
	Replicas int        `json:"replicas"`
	CPU      Millicores `json:"cpu"`    // per replica
	Memory   Mebibytes  `json:"memory"` // per replica
}

// Total is the resources the budget counts for a: replicas × per-replica.
func (a Alloc) Total() Resources {
	return Resources{CPU: a.CPU, Memory: a.Memory}.Times(a.Replicas)
}

// System is a Config resolved against its space and budget: what the
// deployment will hold. The model and the deployers consume it; it names
// services and settings, never Helm paths.
type System struct {
	// Dify is the Dify release the deployment runs (the space's
	// metadata.difyVersion; empty: the newest). The model picks its
	// topology by it.
	Dify     string
	Budget   Budget
	Reserved Resources
	Services map[string]Alloc // by service name: api, worker, pluginDaemon, postgresql, ...
	Settings map[string]any   // non-resource parameters by name: api.workers, pgbouncer.enabled, ...
}

// Int returns setting name as an int64, or def when it is absent.
func (s System) Int(name string, def int64) int64 {
	switch v := s.Settings[name].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	}
	return def
}

// Float returns setting name as a float64, or def when it is absent.
func (s System) Float(name string, def float64) float64 {
	switch v := s.Settings[name].(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	case int:
		return float64(v)
	}
	return def
}

// String returns setting name as a string, or def when it is absent.
func (s System) String(name, def string) string {
	if v, ok := s.Settings[name].(string); ok {
		return v
	}
	return def
}

// Bool returns setting name as a bool, or def when it is absent.
func (s System) Bool(name string, def bool) bool {
	if v, ok := s.Settings[name].(bool); ok {
		return v
	}
	return def
}
