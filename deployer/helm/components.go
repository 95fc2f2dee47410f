package helm

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
)

// components maps workloads to the space's values keys (services, and
// other components such as pgbouncer) by their labels, with the selectors of
// target.helm.workloads.
type components struct {
	keys []string // in the space's order: the first match wins
	sels map[string]labels.Selector
}

func newComponents(keys []string, selectors map[string]string) (*components, error) {
	c := &components{sels: map[string]labels.Selector{}}
	for _, k := range keys {
		s, err := labels.Parse(selectors[k])
		if err != nil {
			return nil, fmt.Errorf("target.helm.workloads.%s: %q: %w", k, selectors[k], err)
		}
		c.keys = append(c.keys, k)
		c.sels[k] = s
	}
	return c, nil
}

// of returns the key whose selector matches a workload's labels, or "".
func (c *components) of(l map[string]string) string {
	for _, k := range c.keys {
		if c.sels[k].Matches(labels.Set(l)) {
			return k
		}
	}
	return ""
}

func (d *Deployer) components() (*components, error) {
	return newComponents(componentKeys(d.space), d.selectors)
}
