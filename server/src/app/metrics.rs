//! Prometheus metrics, in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use projections::PartitionStatus;

/// What the background jobs did, counted since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    /// Deleted uploads' files the sweeper removed (`sweep.rs`).
    FilesRemoved,
    /// Inbox records refused into the dead-letter topic (`inbox.rs`).
    InboxRefused,
    /// Inbox records retention deleted before the service read them.
    InboxExpired,
    /// Consents the expiry sweep expired (`expiry.rs`).
    ConsentsExpired,
    /// Requests sent on to the node that owns their partition (`http::forward`).
    Forwarded,
}

impl Job {
    const ALL: [Job; 5] = [
        Job::FilesRemoved,
        Job::InboxRefused,
        Job::InboxExpired,
        Job::ConsentsExpired,
        Job::Forwarded,
    ];

    fn name_and_help(self) -> (&'static str, &'static str) {
        match self {
            Job::FilesRemoved => {
                ("locker_files_removed_total", "Deleted uploads' files removed by the sweeper.")
            }
            Job::InboxRefused => {
                ("locker_inbox_refused_total", "Inbox records refused into the dead-letter topic.")
            }
            Job::InboxExpired => (
                "locker_inbox_expired_total",
                "Inbox records retention deleted before the service read them.",
            ),
            Job::ConsentsExpired => {
                ("locker_consents_expired_total", "Consents the expiry sweep expired.")
            }
            Job::Forwarded => (
                "locker_requests_forwarded_total",
                "Requests sent on to the node that owns their partition.",
            ),
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// (route, status) -> requests
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    jobs: Mutex<BTreeMap<Job, u64>>,
    /// Where the projector found the records it applied.
    projected: std::sync::OnceLock<std::sync::Arc<projections::Sources>>,
    leaves: std::sync::OnceLock<std::sync::Arc<ledger::merkle::LeafSources>>,
}

impl Metrics {
    pub fn add(&self, job: Job, count: u64) {
        if let Ok(mut jobs) = self.jobs.lock() {
            *jobs.entry(job).or_default() += count;
        }
    }

    /// Reports the projector's sources from now on.
    pub fn watch_projection(&self, sources: std::sync::Arc<projections::Sources>) {
        let _ = self.projected.set(sources);
    }

    /// Reports the Merkle trees' sources from now on.
    pub fn watch_trees(&self, sources: std::sync::Arc<ledger::merkle::LeafSources>) {
        let _ = self.leaves.set(sources);
    }

    pub fn count(&self, route: &str, status: u16) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route.to_owned(), status)).or_default() += 1;
        }
    }

    /// `owned`: in a cluster, the partitions this node owns (a gauge of 1 or 0 per partition).
    pub fn render(
        &self,
        partitions: &[PartitionStatus],
        owned: Option<&[(String, u32)]>,
    ) -> String {
        let mut out = String::new();
        let _ =
            writeln!(out, "# HELP locker_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(out, "# TYPE locker_http_requests_total counter");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "locker_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        if let Ok(jobs) = self.jobs.lock() {
            for job in Job::ALL {
                let (name, help) = job.name_and_help();
                let count = jobs.get(&job).copied().unwrap_or(0);
                let _ =
                    writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {count}");
            }
        }
        if let Some(sources) = self.projected.get() {
            by_source(
                &mut out,
                "locker_projection_records_total",
                "Records the views applied",
                sources.counts(),
            );
        }
        if let Some(sources) = self.leaves.get() {
            by_source(
                &mut out,
                "locker_merkle_leaves_total",
                "Leaves the Merkle trees took",
                sources.counts(),
            );
        }
        partition_gauge(
            &mut out,
            "locker_log_end_offset",
            "Records in each log partition.",
            partitions,
            |p| p.end,
        );
        partition_gauge(
            &mut out,
            "locker_projection_position",
            "Next offset the views will apply.",
            partitions,
            |p| p.position,
        );
        partition_gauge(
            &mut out,
            "locker_projection_halted",
            "1 if the partition stopped at an event it cannot apply.",
            partitions,
            |p| u64::from(p.halt.is_some()),
        );
        if let Some(owned) = owned {
            partition_gauge(
                &mut out,
                "locker_partition_owned",
                "1 if this node owns the partition (it alone appends to it).",
                partitions,
                |p| u64::from(owned.iter().any(|(t, n)| *t == p.topic && *n == p.partition)),
            );
        }
        out
    }
}

/// One gauge with a sample per log partition.
fn partition_gauge(
    out: &mut String,
    name: &str,
    help: &str,
    partitions: &[PartitionStatus],
    value: impl Fn(&PartitionStatus) -> u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for p in partitions {
        let _ = writeln!(
            out,
            "{name}{{topic=\"{}\",partition=\"{}\"}} {}",
            p.topic,
            p.partition,
            value(p)
        );
    }
}

/// A counter of items by where they came from: this process's appends kept in memory (tail),
/// or read back from the log (log).
fn by_source(out: &mut String, name: &str, what: &str, (kept, read): (u64, u64)) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "# HELP {name} {what}, by where they came from: this process's appends kept in memory (tail), or read back from the log (log).\n# TYPE {name} counter\n{name}{{source=\"tail\"}} {kept}\n{name}{{source=\"log\"}} {read}"
    );
}
