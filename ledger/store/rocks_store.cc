// Placeholder until the RocksDB store lands.
