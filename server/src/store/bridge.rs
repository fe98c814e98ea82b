//! Stores every node of a cluster reaches (the bucket) called from synchronous code: the
//! vault from the projector and the bulk path's blocking pool, the accounts from handlers.
//! Their requests run on one thread with its own runtime (the object store's connections
//! belong to the runtime that made them), each as its own task, so a slow request does not
//! hold up the others; the caller waits for its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::sync_channel;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

pub struct Bridge {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

impl Bridge {
    /// Starts the thread, named `name`.
    pub fn start(name: &str) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("{name}'s runtime: {e}"))?;
        let (jobs, mut received) = tokio::sync::mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = received.recv().await {
                        tokio::spawn(job);
                    }
                });
            })
            .map_err(|e| format!("{name}'s thread: {e}"))?;
        Ok(Bridge { jobs })
    }

    /// Runs `work` to its end on the bridge's thread and returns what it gave. Blocks the
    /// calling thread: call it off the async workers (or accept a round trip's wait there).
    pub fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, String> {
        let (done, result) = sync_channel(1);
        let job: Job = Box::pin(async move {
            let _ = done.send(work.await);
        });
        let stopped = || "the shared store's thread stopped".to_owned();
        self.jobs.send(job).map_err(|_| stopped())?;
        result.recv().map_err(|_| stopped())
    }
}
