//! The `locker` binary as a user runs it: serve, restart, issue, the reference authority.

mod serve;
