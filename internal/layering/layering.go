package layering

import (
	"bufio"
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

const (
	allowLine = "Imports of this module:"
	denyLine  = "Never imports:"
)

// Rule is one package's stated rule.
type Rule struct {
	Allow []string // the module's packages (relative; "x/..." is a folder) it may import
	Deny  []string // import path prefixes outside the module it must not import
}

// Violation is one import against a package's rule, or a package with no
// rule. The rule is read from the package comment, wherever it is (doc.go
// by convention).
type Violation struct {
	Package string // relative to the module root
	Msg     string
}

func (v Violation) String() string { return v.Package + ": " + v.Msg }

// Check walks the module at root (the folder holding go.mod) and returns
// every violation, sorted. Test files and testdata are not checked.
func Check(root string) ([]Violation, error) {
	module, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	var out []Violation
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		pkg, err := build.ImportDir(path, 0)
		var none *build.NoGoError
		if errors.As(err, &none) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if pkg.Name == "main" {
			return nil
		}
		var rule Rule
		var ok bool
		for _, f := range pkg.GoFiles {
			r, found, err := readRule(filepath.Join(path, f))
			if err != nil {
				return err
			}
			if found {
				rule, ok = r, true
			}
		}
		if !ok {
			out = append(out, Violation{rel, fmt.Sprintf("the package comment (doc.go) states no %q rule", allowLine)})
			return nil
		}
		out = append(out, rule.check(rel, module, pkg.Imports)...)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, err
}

func (r Rule) check(pkg, module string, imports []string) []Violation {
	var out []Violation
	for _, imp := range imports {
		if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
			if rel == pkg || strings.HasPrefix(rel, pkg+"/internal/") {
				continue // its own internals
			}
			if !slices.ContainsFunc(r.Allow, func(a string) bool { return matches(a, rel) }) {
				out = append(out, Violation{pkg, fmt.Sprintf("imports %s, which its doc.go does not allow (%s %s)", rel, allowLine, strings.Join(orNothing(r.Allow), ", "))})
			}
			continue
		}
		for _, d := range r.Deny {
			if imp == d || strings.HasPrefix(imp, d+"/") {
				out = append(out, Violation{pkg, fmt.Sprintf("imports %s, which its doc.go forbids (%s %s)", imp, denyLine, strings.Join(r.Deny, ", "))})
			}
		}
	}
	return out
}

func orNothing(s []string) []string {
	if len(s) == 0 {
		return []string{"nothing"}
	}
	return s
}

func matches(allow, rel string) bool {
	if dir, ok := strings.CutSuffix(allow, "/..."); ok {
		return rel == dir || strings.HasPrefix(rel, dir+"/")
	}
	return allow == rel
}

// readRule reads the rule lines of a file's package comment (the comment
// lines before the package clause); ok is false when it states no rule.
func readRule(path string) (r Rule, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return r, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		raw := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(raw, "package ") {
			break
		}
		line := strings.TrimSpace(strings.TrimPrefix(raw, "//"))
		if rest, found := strings.CutPrefix(line, allowLine); found {
			ok = true
			r.Allow = list(rest)
		}
		if rest, found := strings.CutPrefix(line, denyLine); found {
			r.Deny = list(rest)
		}
	}
	return r, ok, sc.Err()
}

// list splits "a, b and c." into its items; "nothing" is none.
func list(s string) []string {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, "...") {
		s = strings.TrimSuffix(s, ".")
	}
	var out []string
	for _, part := range strings.Split(strings.ReplaceAll(s, " and ", ", "), ",") {
		if part = strings.TrimSpace(part); part != "" && part != "nothing" {
			out = append(out, part)
		}
	}
	return out
}

func modulePath(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("%s: no module line", gomod)
}
