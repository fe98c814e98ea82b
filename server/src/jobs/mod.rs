//! The service's background jobs (the projection follower, consent expiry, the file sweep, the
//! checkpointer, the issuers' inbox, the health refresher) on one `JoinSet`, with one stop
//! signal. On shutdown every job is told to stop and awaited, within a bound.
//!
//! A job either watches the stop signal itself (the follower finishes the batch it is
//! committing) or is stopped at its next await point. Every job is safe to stop there: its
//! durable steps are synchronous store writes, and a step it had not finished it does again on
//! the next start (expiry and the sweep resume from the views and their cursor, the inbox from
//! its committed offsets, the checkpointer from the last signed checkpoint).

pub mod expiry;
pub mod inbox;
pub mod snapshot;
pub mod sweep;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug)]
pub struct Jobs {
    set: JoinSet<()>,
    stop: watch::Sender<bool>,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs { set: JoinSet::new(), stop: watch::channel(false).0 }
    }
}

impl Jobs {
    /// The stop signal, for a job that ends itself when it turns true.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Runs `job` until it ends or the stop signal comes.
    pub fn spawn(&mut self, name: &'static str, job: impl Future<Output = ()> + Send + 'static) {
        let mut stop = self.stop.subscribe();
        self.set.spawn(async move {
            tokio::select! {
                () = job => tracing::debug!(job = name, "job ended"),
                _ = stop.wait_for(|stopping| *stopping) => tracing::debug!(job = name, "job stopped"),
            }
        });
    }

    /// Sends the stop signal and waits for every job, at most `timeout_ms`; the jobs still
    /// running then are aborted. Returns how many were.
    pub async fn stop(mut self, timeout_ms: u64) -> usize {
        let _ = self.stop.send(true);
        let joined = tokio::time::timeout(Duration::from_millis(timeout_ms), async {
            while self.set.join_next().await.is_some() {}
        })
        .await;
        if joined.is_ok() {
            return 0;
        }
        let left = self.set.len();
        self.set.abort_all();
        while self.set.join_next().await.is_some() {}
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_job_stops_on_the_signal_and_one_past_the_bound_is_aborted() {
        // Stopped at its await point: the job's future (and what it holds) is dropped.
        let held = std::sync::Arc::new(());
        let mut jobs = Jobs::default();
        let mut signal = jobs.stop_signal();
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
        jobs.spawn("watching", async move {
            let _ = signal.wait_for(|stopping| *stopping).await;
            let _ = done.send(());
        });
        let looping = std::sync::Arc::clone(&held);
        jobs.spawn("looping", async move {
            let _held = looping;
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        assert_eq!(jobs.stop(5_000).await, 0, "every job stopped within the bound");
        assert_eq!(std::sync::Arc::strong_count(&held), 1, "the looping job was dropped");
        // Either the job saw the signal and finished its step, or it was dropped: never left.
        let _ = finished.try_recv();
        assert!(finished.recv().await.is_none(), "no job is still running");

        // A job that does not reach an await point within the bound is counted and aborted.
        let mut jobs = Jobs::default();
        jobs.spawn("stuck", async {
            std::thread::sleep(Duration::from_millis(300));
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(jobs.stop(10).await, 1, "the stuck job is reported");
    }
}
