// Package layering checks the module's import rules. Each library
// package's doc.go states its rule in two lines the checker reads:
//
//	Imports of this module: spaces, results, deployer/... (or: nothing)
//	Never imports: net/http, helm.sh/helm (optional)
//
// The first lists the module's packages it may import (a trailing /...
// allows a folder and everything under it); the second lists import path
// prefixes outside the module it must not import. Commands (package main:
// cmd/tune, tools/...) may import anything. The repository-wide test in this
// package fails on any import against a rule, and on a library package
// whose doc.go states none.
//
// Imports of this module: nothing.
package layering
