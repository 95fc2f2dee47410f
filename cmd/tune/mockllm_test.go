package main

import (
	"strings"
	"testing"
)

func TestMockLLMHelp(t *testing.T) {
	stdout, _, code := runCLI(t, "mock-llm", "--help")
	if code != exitOK || !strings.Contains(stdout, "Examples:") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	golden(t, "help-mock-llm---help.txt", stdout)
}

// TestMockLLMBadInput: a bad setting is named, exit code 2, nothing served.
func TestMockLLMBadInput(t *testing.T) {
	for name, args := range map[string][]string{
		"ttft":   {"--ttft", "0s"},
		"rate":   {"--tokens-per-second", "-3"},
		"tokens": {"--tokens", "0"},
		"key":    {"--api-key-file", "testdata/nope.key"},
	} {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append([]string{"mock-llm", "--listen", "127.0.0.1:0"}, args...)...)
			if code != exitBadInput {
				t.Errorf("exit %d, want 2", code)
			}
			golden(t, "bad-mock-llm-"+name+".txt", stderr)
		})
	}
}

// TestMockLLMServesAndStops: --for bounds the run and the summary says
// what was served.
func TestMockLLMServesAndStops(t *testing.T) {
	stdout, stderr, code := runCLI(t, "mock-llm", "--listen", "127.0.0.1:0", "--for", "50ms")
	if code != exitOK || !strings.Contains(stdout, "mock LLM on http://127.0.0.1:") || !strings.Contains(stdout, "served 0 completions") {
		t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}
