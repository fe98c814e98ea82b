//! Stores every node of a cluster reaches (the bucket) called from synchronous code: the
//! vault from the projector and the bulk path's blocking pool, the accounts from handlers.
//! Their requests run on one thread with its own runtime (the object store's connections
//! belong to the runtime that made them), and the caller waits for each.

use std::sync::Mutex;
use std::sync::mpsc::{Sender, channel, sync_channel};

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime) + Send>;

pub struct Bridge {
    jobs: Mutex<Sender<Job>>,
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
        let (jobs, received) = channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for job in received {
                    job(&runtime);
                }
            })
            .map_err(|e| format!("{name}'s thread: {e}"))?;
        Ok(Bridge { jobs: Mutex::new(jobs) })
    }

    /// Runs `work` to its end on the bridge's thread and returns what it gave.
    pub fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, String> {
        let (done, result) = sync_channel(1);
        let job: Job = Box::new(move |runtime| {
            let _ = done.send(runtime.block_on(work));
        });
        let stopped = || "the shared store's thread stopped".to_owned();
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| stopped())?;
        result.recv().map_err(|_| stopped())
    }
}
