package main

import (
	"io"
	"sync"
)

// streamWriter sends what is written to it as one message on a gRPC server
// stream (RunPlugin's or InstallDependencies'). exec.Cmd copies a child's
// stdout and stderr on two goroutines, and a gRPC stream must not be sent on
// from two goroutines at once, so the two writers of one stream share a mutex.
type streamWriter struct {
	mu   *sync.Mutex
	send func([]byte) error
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Send marshals the message before it returns, so p may be reused after.
	if err := w.send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// newStreamWriters returns the stdout and stderr writers for one stream.
func newStreamWriters(sendStdout, sendStderr func([]byte) error) (stdout, stderr io.Writer) {
	mu := &sync.Mutex{}
	return streamWriter{mu: mu, send: sendStdout}, streamWriter{mu: mu, send: sendStderr}
}
