// Package high may import low.
//
// Imports of this module: low.
package high
