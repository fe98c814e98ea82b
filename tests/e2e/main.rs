//! End-to-end tests across processes: one binary.

/// SIGKILL a writer mid-stream; every acknowledged event must survive, nothing partial shows.
mod crash;
