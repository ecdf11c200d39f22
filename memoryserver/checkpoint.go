package memoryserver

import (
	"context"
	"database/sql"
	"time"

	"go.uber.org/zap"
)

// In WAL mode a commit appends the pages it changed to the -wal file (and
// fsyncs it: that is what makes a write durable), and a checkpoint copies
// them into the database file. By default SQLite checkpoints in the
// committing connection once the WAL holds 1000 pages, so a write now and
// then paid for copying and fsyncing the pages of the writes before it: a
// third of a batch write at 100k entities. A checkpointer goroutine on a
// connection of its own does that work instead, once per
// checkpointInterval after a commit, while the next writes go on. The
// writer still checkpoints itself past writerCheckpointPages, which bounds
// the WAL if the checkpointer cannot keep up (or another process holds a
// read transaction open for long).

const (
	// checkpointInterval is how long after a commit the checkpointer
	// copies the WAL into the database file: writes in between share one
	// checkpoint and its fsync.
	checkpointInterval = time.Second
	// writerCheckpointPages is the size of the WAL, in pages (4 KiB each),
	// past which a commit checkpoints in the writer as SQLite does by
	// default at 1000.
	writerCheckpointPages = 10_000
)

// checkpointer runs passive checkpoints in the background. A passive
// checkpoint waits for no lock: it copies what no reader still needs and
// leaves the rest for the next one, so it never blocks a reader or the
// writer.
type checkpointer struct {
	db       *sql.DB
	log      *zap.Logger
	interval time.Duration
	wrote    chan struct{}
	stop     context.CancelFunc
	done     chan struct{}
}

func startCheckpointer(db *sql.DB, log *zap.Logger, interval time.Duration) *checkpointer {
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, log: log, interval: interval, wrote: make(chan struct{}, 1), stop: stop, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

// committed tells the checkpointer that a write transaction committed.
func (c *checkpointer) committed() {
	select {
	case c.wrote <- struct{}{}:
	default: // one is pending already
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wrote:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.interval):
		}
		// The checkpoint covers every commit until it starts, so one
		// signalled meanwhile only asks for what is already done.
		select {
		case <-c.wrote:
		default:
		}
		var busy, walPages, copied int
		err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &walPages, &copied)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("checkpointing the write-ahead log into the database file failed; writes stay durable in the -wal file", zap.Error(err))
		}
	}
}

// close stops the checkpointer and waits for a checkpoint under way.
func (c *checkpointer) close() {
	c.stop()
	<-c.done
}
