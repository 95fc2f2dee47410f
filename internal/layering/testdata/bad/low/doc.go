// Package low is at the bottom: it must import nothing of the module, and
// not net/http, but it does both.
//
// Imports of this module: nothing.
// Never imports: net/http.
package low
