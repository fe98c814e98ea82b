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
        let _ = writeln!(out, "# HELP locker_log_end_offset Records in each log partition.");
        let _ = writeln!(out, "# TYPE locker_log_end_offset gauge");
        for p in partitions {
            let _ = writeln!(
                out,
                "locker_log_end_offset{{topic=\"{}\",partition=\"{}\"}} {}",
                p.topic, p.partition, p.end
            );
        }
        let _ =
            writeln!(out, "# HELP locker_projection_position Next offset the views will apply.");
        let _ = writeln!(out, "# TYPE locker_projection_position gauge");
        for p in partitions {
            let _ = writeln!(
                out,
                "locker_projection_position{{topic=\"{}\",partition=\"{}\"}} {}",
                p.topic, p.partition, p.position
            );
        }
        let _ = writeln!(
            out,
            "# HELP locker_projection_halted 1 if the partition stopped at an event it cannot apply."
        );
        let _ = writeln!(out, "# TYPE locker_projection_halted gauge");
        for p in partitions {
            let halted = u8::from(p.halt.is_some());
            let _ = writeln!(
                out,
                "locker_projection_halted{{topic=\"{}\",partition=\"{}\"}} {halted}",
                p.topic, p.partition
            );
        }
        out
    }
}
