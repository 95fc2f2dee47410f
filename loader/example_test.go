package loader_test

import (
	"fmt"
	"strings"

	"github.com/tune-dify/tune/loader"
)

// A Secret never prints, whatever the verb.
func ExampleSecret() {
	key := loader.Secret("app-abc123")
	fmt.Printf("%v %s %q %#v\n", key, key, key, loader.Config{APIKey: key}.APIKey)
	// Output: [REDACTED] [REDACTED] [REDACTED] [REDACTED]
}

func ExampleReadQueries() {
	qs, _ := loader.ReadQueries(strings.NewReader("你好\r\n\r\nWhat is Dify?\n"))
	fmt.Printf("%q\n", qs)
	// Output: ["你好" "What is Dify?"]
}
