package proxy

// The goroutines that run handlers. They are shared by all of a server's
// connections and outlive a stream: a goroutine whose stack grew for one
// request (HPACK, the backend client, TLS writes) serves the next without
// growing it again, which a new goroutine per stream would do every time
// (a fifth of the server's CPU in BenchmarkH2Request). A stream is handed
// to an idle worker directly, or a new one starts; idle workers end after
// workerIdle, or when the server stops.

import (
	"sync"
	"time"
)

const workerIdle = 10 * time.Second

type h2workers struct {
	tasks chan *h2stream // unbuffered: a send succeeds only into an idle worker
	quit  chan struct{}
	once  sync.Once
}

func newH2Workers() *h2workers {
	return &h2workers{tasks: make(chan *h2stream), quit: make(chan struct{})}
}

// start runs st's handler (then the connection's queued streams) on a
// worker.
func (w *h2workers) start(st *h2stream) {
	select {
	case w.tasks <- st:
	default:
		go w.run(st)
	}
}

func (w *h2workers) run(st *h2stream) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		st.c.work(st)
		idle.Reset(workerIdle)
		select {
		case st = <-w.tasks:
		case <-idle.C:
			return
		case <-w.quit:
			return
		}
	}
}

// stop ends the idle workers, and the others once their handlers return.
func (w *h2workers) stop() { w.once.Do(func() { close(w.quit) }) }
