package spaces

import (
	"os"
	"reflect"
)

// LoadOverlayFile reads a YAML mapping of load fields from path and returns
// w with them replacing its own (see OverlayLoad); errors name the file,
// the line and the field's path under "load".
func LoadOverlayFile(w Workload, path string) (Workload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return w, &FileError{File: path, Msg: readProblem(err), Err: err}
	}
	return overlayLoad(w, path, data, true)
}

// OverlayLoad returns w with the fields of the YAML mapping in data
// replacing its own, as a values file overrides a chart's values: fields the
// mapping leaves out keep w's, nested ones too ("llm: {tokensPerSecond: 20}"
// keeps the LLM's other figures). It is how the command line's --load-set
// changes a space's load for one run without editing the space. The result
// is validated as a space's load is. Errors name source and the field's
// path under "load" but no line: such an overlay is assembled from a flag.
func OverlayLoad(w Workload, source string, data []byte) (Workload, error) {
	return overlayLoad(w, source, data, false)
}

func overlayLoad(w Workload, source string, data []byte, lines bool) (Workload, error) {
	root, ferr := parseYAML(source, data)
	if ferr != nil {
		if !lines {
			ferr.Line = 0
		}
		return w, ferr
	}
	d := &decoder{file: source, lines: map[string]int{}}
	d.decode(root, reflect.ValueOf(&w).Elem(), "load")
	// The load runs one scenario or a mix: an overlay that names one
	// replaces the other.
	_, scenario := d.lines["load.scenario"]
	_, mix := d.lines["load.mix"]
	switch {
	case scenario && !mix:
		w.Mix = nil
	case mix && !scenario:
		w.Scenario = ""
	}
	errs := d.errs
	if len(errs) == 0 {
		c := &checker{s: &Space{File: source, Load: w, lines: d.lines}}
		c.workload()
		errs = c.errs
	}
	if !lines {
		for _, e := range errs {
			e.Line = 0
		}
	}
	return w, joinFileErrors(errs)
}
