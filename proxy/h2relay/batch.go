package h2relay

// batch collects the connections a reader wrote to while handling the
// frames it had buffered, so that each flusher wakes once per batch
// rather than once per frame. A nil batch kicks at once.
type batch struct{ conns []*conn }

func (b *batch) add(c *conn) {
	if b == nil {
		c.kick()
		return
	}
	for _, x := range b.conns {
		if x == c {
			return
		}
	}
	b.conns = append(b.conns, c)
}

func (b *batch) flush() {
	for i, c := range b.conns {
		c.kick()
		b.conns[i] = nil
	}
	b.conns = b.conns[:0]
}

// frameBuffered says whether a whole frame waits in the read buffer,
// so reading it will not block.
func (c *conn) frameBuffered() bool {
	n := c.br.buffered()
	if n < 9 {
		return false
	}
	h := c.br.peek(9)
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}
