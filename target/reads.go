package target

import (
	"slices"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/spaces"
)

// Unread is what a target and a space disagree on by name.
type Unread struct {
	// Ignored are the space's services and parameters the target does not
	// act on: changing them changes nothing the target measures.
	Ignored []string
	// Defaulted are the settings and services the target reads that the
	// space does not have: the target runs them at its own default.
	Defaulted []string
}

// Empty reports whether the target and the space agree.
func (u Unread) Empty() bool { return len(u.Ignored) == 0 && len(u.Defaulted) == 0 }

// ModelUnread is what the embedded model (--target sim, --target local,
// --target helm --emulate) does not read of sp, and what it reads that sp
// lacks. A release's chart reads what its values paths reach; tune validate
// --target helm checks those by rendering it.
func ModelUnread(sp *spaces.Space) Unread {
	r := sim.ReadsFor(sp)
	var u Unread
	has := map[string]bool{}
	for _, sv := range sp.Services {
		has[sv.Name] = true
		if !slices.Contains(r.Services, sv.Name) {
			u.Ignored = append(u.Ignored, "service "+sv.Name)
		}
	}
	for _, p := range sp.Params {
		has[p.Name] = true
		if !slices.Contains(r.Settings, p.Name) {
			u.Ignored = append(u.Ignored, p.Name)
		}
	}
	for _, name := range r.Services {
		if !has[name] {
			u.Defaulted = append(u.Defaulted, "service "+name)
		}
	}
	for _, name := range r.Settings {
		if !has[name] {
			u.Defaulted = append(u.Defaulted, name)
		}
	}
	return u
}
