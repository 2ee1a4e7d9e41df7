package node

// WriteVolume reports what the replica has written since it opened: the logical bytes into
// Pebble's write-ahead log, and the number of keys the store holds now. Benchmarks use it to
// give a plain Raft baseline the same volume to write.
func (r *Replica) WriteVolume() (walBytes, keys uint64, err error) {
	done, err := r.reading()
	if err != nil {
		return 0, 0, err
	}
	defer done()
	walBytes = r.db.Metrics().WAL.BytesIn
	it, err := r.db.NewIter(nil)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		keys++
	}
	return walBytes, keys, it.Error()
}
