//! The schemas integration tests: one binary.

/// Checked-in byte fixtures for every event kind; a change of encoding fails here.
mod golden;
/// Round-trip and robustness properties of every codec.
mod props;
