// Package norule states no rule.
package norule
