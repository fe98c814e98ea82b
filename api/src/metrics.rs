//! Prometheus metrics, in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use projections::PartitionStatus;

#[derive(Debug, Default)]
pub struct Metrics {
    /// (route, status) -> requests
    requests: Mutex<BTreeMap<(String, u16), u64>>,
}

impl Metrics {
    pub fn count(&self, route: &str, status: u16) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route.to_owned(), status)).or_default() += 1;
        }
    }

    pub fn render(&self, partitions: &[PartitionStatus]) -> String {
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
