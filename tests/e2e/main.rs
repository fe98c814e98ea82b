//! End-to-end tests across processes: one binary.

/// SIGKILL a writer mid-stream; every acknowledged event must survive, nothing partial shows.
mod crash;
/// Kill the Kafka broker mid-stream: acknowledged appends survive exactly once.
mod kafka_faults;

/// The broker address, or `None` when Kafka tests are skipped (said once, visibly). Under
/// `CI=true` a missing broker is a failure, never a skip.
pub fn kafka_bootstrap() -> Option<String> {
    match std::env::var("KAFKA_BOOTSTRAP") {
        Ok(address) if !address.is_empty() => Some(address),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but KAFKA_BOOTSTRAP is not set: Kafka tests must run in CI"
            );
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipping Kafka tests: KAFKA_BOOTSTRAP is not set (scripts/test starts a broker)\n",
            );
            None
        }
    }
}
