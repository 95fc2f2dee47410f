package loader

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultQueries are used when no query file is given: short and long,
// Chinese and English, like a support bot's traffic.
var DefaultQueries = []string{
	"你好，请介绍一下你自己。",
	"如何重置我的账户密码？",
	"请总结一下这份文档的主要内容。",
	"今天北京的天气怎么样？",
	"Dify 支持哪些大语言模型？",
	"What is the refund policy for annual subscriptions?",
	"Explain retrieval-augmented generation in two sentences.",
	"How do I connect a knowledge base to a chat app?",
	"List three ways to reduce API latency.",
	"Translate 'load testing' into Chinese and explain it.",
}

// ReadQueries reads one query a line, skipping blank lines; line ends may
// be LF or CRLF.
func ReadQueries(r io.Reader) ([]string, error) {
	var qs []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if q := strings.TrimSpace(sc.Text()); q != "" {
			qs = append(qs, q)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loader: read queries: %w", err)
	}
	if len(qs) == 0 {
		return nil, errors.New("loader: no queries")
	}
	return qs, nil
}

// ReadQueriesFile is ReadQueries on the named file.
func ReadQueriesFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	defer f.Close()
	qs, err := ReadQueries(f)
	if err != nil {
		return nil, fmt.Errorf("%w in %s", err, path)
	}
	return qs, nil
}
