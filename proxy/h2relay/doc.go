// Package h2relay is strait's default data path: an HTTP/2 relay that
// forwards gRPC calls frame by frame. It decodes each request's headers,
// routes on :path, picks an endpoint, and re-encodes the headers on a
// multiplexed upstream connection; DATA, trailers and resets then pass
// through with flow control on both sides, and messages are never
// parsed beyond their length prefix (for the size limit).
//
// # Where things live
//
// Each core type has a file that holds its fields and its life cycle:
// Server (relay.go), conn (conn.go: what both sides share, with its
// frame reading in frames.go), downConn (down.go), upConn (up.go, and
// up_stream.go for the responses it reads), stream (stream.go), leg and
// chunk (leg.go), transport and pool (pool.go). A feature that touches
// several types keeps its methods on all of them in the feature's own
// file, so that it can be read, and removed, in one place: a request's
// admission and dispatch (request.go), time limits (timeouts.go,
// deadline.go), the overload budget (budget.go), retries (retry.go,
// policy.go), hedging (hedge.go: the policy and the attempts sent;
// hedge_win.go: how attempts end, and the winner's move into the call;
// hedge_repick.go: an attempt whose endpoint failed), moves between
// pools (repick.go), keep-alive PINGs (keepalive.go), idle reaping
// (reap.go), late frames on streams the relay reset (resets.go), DATA
// forwarding with its flow control (forward.go), and the upstream
// stream windows that grow only while a client keeps up (upwindow.go).
// The rest are leaves: reading and writing the socket (rawio_*.go,
// readbuf.go, batch.go), headers (headers.go, hencode.go, hcache.go,
// hmemo.go), message limits (grpcmsg.go), call detail for logs and
// spans (detail.go), the token bucket (bucket.go), options
// (options.go), and the balancer interface and its lb adapter
// (balancer.go, lbpool.go).
//
// # Goroutines
//
// Per Server: one idle sweeper (Server.idleLoop: idle client
// connections, and through transport.reapIdle idle upstream ones) and,
// with KeepaliveInterval set, one keep-alive sweeper
// (transport.keepaliveLoop). Per listener: the accept loop, which runs in
// the goroutine that called Serve.
//
// Per client connection (downConn): a reader, which runs serve and
// handles every frame the client sends, and, only while there is
// something to write, a flusher (conn.flushLoop): conn.kick starts one
// when none runs, and it ends when a pass finds nothing more kicked, so
// an idle connection has no flusher. The Server's WaitGroup counts a
// connection's flushing once, from startFlusher until its last flusher
// ends after the close. Per upstream connection (upConn): the same, its
// reader started by upConn.run once a pool's dial succeeds; each dial
// runs on a goroutine of its own
// (pool.dial). Short-lived goroutines: pool.redispatch (below), the
// close of a connection whose keep-alive PING went unanswered
// (upConn.lose), since a TLS close may block on a vanished peer, and a
// call's retry waiting out its backoff (stream.retry; it gives up when
// the Server stops), and one per hedged call (hedging.run), which sends
// its further attempts and cancels the losers, and ends once the call is
// decided or over, or the Server stops. All of
// them are counted in the Server's WaitGroup, which Stop waits for.
//
// # Who owns what
//
// A connection's reader owns its framer, read buffer, header decoder and
// batch (rb). Frames read are relayed in the reader's goroutine: the
// reader locks the peer leg, appends to the peer connection's write
// buffer (conn.wbuf) and wakes that connection's flusher once per batch
// of buffered frames. Any goroutine may append to wbuf under conn.mu; the
// flusher swaps wbuf out under conn.mu and writes it without the lock, so
// frames from many calls go out in one write.
//
// The read buffer (readBuf) comes from a pool when input arrives and,
// on TCP, goes back once the socket has no more: an idle connection
// holds neither a read nor a write buffer.
//
// DATA and header fields queued on a leg (leg.queue) borrow the reader's
// buffers while the reader holds the leg's lock; whatever stays queued
// when the lock is released is copied first (keepLast). A receive window
// is given back to the sender only once its bytes are written for the
// other side, so the relay holds no more than the windows it granted.
//
// A stream is one call: its client leg (down) and upstream leg (up). A
// leg is guarded by its connection's mu. An up leg that waits for a
// stream slot is on no connection: its pool's mu guards it, and it moves
// to a connection once, under both locks. An up leg between two attempts
// (retry.go), or one that never reached a pool, is guarded by the
// package's detached mutex. leg.lock finds and takes whichever applies.
// A hedged call's further attempts are streams of their own whose down
// leg is closed (shadows); the one that wins is moved into the call's
// up leg, detached first, under its connection's mu and detached.
//
// # Lock order
//
// Server.mu and transport.mu guard their maps only and are released
// before any other lock is taken. Below them:
//
//	pool.mu → conn.mu (an upstream connection of that pool)
//	two pools: the lower seq first (lockPools), for a move between pools
//	detached: a leaf, taken after a pool's and with nothing taken under it
//	hedging.mu: a leaf, taken under any of the above
//
// No goroutine holds two connections' locks at once: what handling one
// connection owes another (window refunds, frames for the peer leg) is
// returned by the *Locked functions and applied after the lock is
// released (applyRefunds, conn.lateRefund).
//
// A finished upstream stream frees a slot while its connection's mu is
// held (stream.upClosed). Starting a waiting call on that slot needs the
// pool's mu, which comes before conn.mu in the order, so upClosed cannot
// take it there: it starts pool.redispatch on a goroutine of its own,
// which takes the pool's lock afresh, and only when calls are waiting.
package h2relay
