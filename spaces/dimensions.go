package spaces

// Dimension is one parameter as a sampler sees it, services' resources
// included, in the units configs use: "<svc>.cpu" is a float in cores,
// "<svc>.memory" an int in MiB, "<svc>.replicas" an int. A value Min + k ×
// Step within [Min, Max] (any value when Step is 0) is valid for Resolve.
type Dimension struct {
	Name    string
	Type    ParamType // int, float, choice or bool
	Min     float64
	Max     float64
	Step    float64 // 0: continuous (float only)
	Log     bool
	Choices []string // choice only; bool has none
}

// Dimensions lists every parameter in ParamNames order, so search need not
// know which ones are service resources.
func (s *Space) Dimensions() []Dimension {
	var ds []Dimension
	for _, k := range s.knobs() {
		var d Dimension
		switch k.res {
		case "replicas":
			r := k.svc.Replicas
			d = Dimension{Type: TypeInt, Min: float64(r.Min), Max: float64(r.Max), Step: float64(r.Step)}
		case "cpu":
			r := k.svc.CPU
			d = Dimension{Type: TypeFloat, Min: r.Min.Cores(), Max: r.Max.Cores(), Step: r.Step.Cores()}
		case "memory":
			r := k.svc.Memory
			d = Dimension{Type: TypeInt, Min: float64(r.Min), Max: float64(r.Max), Step: float64(r.Step)}
		default:
			p := k.param
			d = Dimension{Type: p.Type, Min: p.Min, Max: p.Max, Step: p.Step, Log: p.Log, Choices: p.Choices}
		}
		d.Name = k.name
		ds = append(ds, d)
	}
	return ds
}
