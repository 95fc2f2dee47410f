package spaces

// ConfigOf is the inverse of Resolve: the configuration, by parameter name,
// that resolves to sys (each service's replicas, cores and MiB, and every
// setting). Names sys lacks are left out; Complete fills them. A service
// switched off (no pods) gets its current replica count: any count resolves
// to none while it is off.
func (s *Space) ConfigOf(sys System) Config {
	c := Config{}
	for _, sv := range s.Services {
		a, ok := sys.Services[sv.Name]
		if !ok {
			continue
		}
		c[sv.Name+".replicas"] = int64(a.Replicas)
		if on, isBool := sys.Settings[sv.EnabledBy].(bool); sv.EnabledBy != "" && isBool && !on {
			c[sv.Name+".replicas"] = sv.Replicas.Current
		}
		c[sv.Name+".cpu"] = a.CPU.Cores()
		c[sv.Name+".memory"] = int64(a.Memory)
	}
	for _, p := range s.Params {
		if v, ok := sys.Settings[p.Name]; ok {
			c[p.Name] = v
		}
	}
	return c
}
