package sse_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tune-dify/tune/loader/sse"
)

// A Dify chat stream: JSON in data lines, "event: ping" keep-alives (which
// the spec never dispatches, so they come through WithEmptyEventFunc), and a
// connection that drops before the last event's blank line.
func Example() {
	stream := "data: {\"event\": \"message\", \"answer\": \"Hi\"}\n\n" +
		"event: ping\n\n" +
		"data: {\"event\": \"message\", \"answer\": \" there\"}\r\n\r\n" +
		"data: {\"event\": \"message_end\"}\n"

	pings := 0
	d := sse.NewDecoder(strings.NewReader(stream),
		sse.WithEmptyEventFunc(func(eventType string) {
			if eventType == "ping" {
				pings++
			}
		}))
	for {
		ev, err := d.Next()
		if errors.Is(err, sse.ErrIncompleteEvent) {
			fmt.Println("cut:", err)
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			break
		}
		fmt.Printf("%s: %s\n", ev.Type, ev.Data)
	}
	fmt.Println("pings:", pings)
	// Output:
	// message: {"event": "message", "answer": "Hi"}
	// message: {"event": "message", "answer": " there"}
	// cut: sse: stream ended mid-event
	// pings: 1
}
