// Package bench holds end-to-end benchmarks that run the real HTTP engine
// over loopback TCP against SQLite or MariaDB + Redis. They are benchmarks,
// not tests: they report throughput and latency and assert only correctness.
package bench
