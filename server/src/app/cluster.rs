//! A node among several (issue 18). The nodes join one Kafka consumer group over the owned
//! topics; the group assigns each partition to one node, which claims it in the log (a
//! transactional producer whose id is the partition's, fencing whoever held it before) and
//! alone appends to it. Every node follows every partition's views, so reads are answered
//! anywhere; a write for a partition owned elsewhere is refused with `not_owner`, and the
//! HTTP edge forwards it to the owner's advertised address.
//!
//! What a node owns is what its log holds claims on, not what it was last told: a node paused
//! past its session is fenced by the new owner, and its next append is refused by Kafka.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger::LogError;
use ledger::log::group::{Change, Member, Membership};

use crate::limits::{CLUSTER_MEMBERS_TTL_MS, CLUSTER_RECONCILE_MS};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who may append where.
pub trait Owners: Send + Sync {
    /// Whether this node may append to the partition now.
    fn owns(&self, topic: &str, partition: u32) -> bool;
    /// This node's partitions, in order; `None` for a node alone (it owns everything).
    fn owned(&self) -> Option<Vec<(String, u32)>>;
    /// Where the partition's owner is reached (`http://host:port`), when another node owns it.
    fn owner_of<'a>(&'a self, topic: &'a str, partition: u32) -> Boxed<'a, Option<String>>;
    /// This node's advertised address, in a cluster.
    fn address(&self) -> Option<&str>;
}

/// A node alone: it owns every partition.
#[derive(Debug, Default)]
pub struct Alone;

impl Owners for Alone {
    fn owns(&self, _topic: &str, _partition: u32) -> bool {
        true
    }
    fn owned(&self) -> Option<Vec<(String, u32)>> {
        None
    }
    fn owner_of<'a>(&'a self, _topic: &'a str, _partition: u32) -> Boxed<'a, Option<String>> {
        Box::pin(async { None })
    }
    fn address(&self) -> Option<&str> {
        None
    }
}

/// What a node needs of its log to own partitions (a `KafkaLog`).
pub trait Claims: Send + Sync {
    fn claim<'a>(&'a self, topic: &'a str, partition: u32) -> Boxed<'a, Result<(), LogError>>;
    fn release(&self, topic: &str, partition: u32);
    fn holds(&self, topic: &str, partition: u32) -> bool;
    fn claimed(&self) -> Vec<(String, u32)>;
}

impl Claims for ledger::KafkaLog {
    fn claim<'a>(&'a self, topic: &'a str, partition: u32) -> Boxed<'a, Result<(), LogError>> {
        Box::pin(ledger::KafkaLog::claim(self, topic, partition))
    }
    fn release(&self, topic: &str, partition: u32) {
        let _ = ledger::KafkaLog::release(self, topic, partition);
    }
    fn holds(&self, topic: &str, partition: u32) -> bool {
        ledger::KafkaLog::holds(self, topic, partition)
    }
    fn claimed(&self) -> Vec<(String, u32)> {
        ledger::KafkaLog::claimed(self).unwrap_or_default()
    }
}

/// This node's part in the cluster.
pub struct Cluster {
    address: String,
    claims: Arc<dyn Claims>,
    membership: Arc<Membership>,
    /// What the group last told this node it owns (claims follow it, see `reconcile`).
    assigned: Mutex<BTreeSet<(String, u32)>>,
    /// The coordinator's member list, kept `CLUSTER_MEMBERS_TTL_MS`.
    members: Mutex<Option<(Instant, Vec<Member>)>>,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Cluster {
    pub fn new(address: String, claims: Arc<dyn Claims>, membership: Membership) -> Arc<Self> {
        Arc::new(Cluster {
            address,
            claims,
            membership: Arc::new(membership),
            assigned: Mutex::default(),
            members: Mutex::default(),
            wake: tokio::sync::Notify::new(),
        })
    }

    fn assigned(&self) -> std::sync::MutexGuard<'_, BTreeSet<(String, u32)>> {
        self.assigned.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The coordinator's members, from the cache when fresh.
    async fn members(&self) -> Result<Vec<Member>, LogError> {
        {
            let cached = self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, members)) = cached.as_ref()
                && at.elapsed() < Duration::from_millis(CLUSTER_MEMBERS_TTL_MS)
            {
                return Ok(members.clone());
            }
        }
        let membership = Arc::clone(&self.membership);
        let members = tokio::task::spawn_blocking(move || membership.members())
            .await
            .map_err(|_| LogError::Closed)??;
        *self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), members.clone()));
        Ok(members)
    }

    fn still_assigned(&self, topic: &str, partition: u32) -> bool {
        self.assigned().contains(&(topic.to_owned(), partition))
    }

    fn forget_members(&self) {
        *self.members.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Applies the group's changes: a revocation gives the partitions up at once (before the
    /// new owner claims them); an assignment is claimed by `reconcile`.
    pub async fn follow(
        self: Arc<Self>,
        mut changes: tokio::sync::mpsc::UnboundedReceiver<Change>,
    ) {
        while let Some(change) = changes.recv().await {
            match change {
                Change::Assigned(partitions) => {
                    tracing::info!(partitions = ?partitions, "the group assigned partitions");
                    self.assigned().extend(partitions);
                }
                Change::Revoked(partitions) => {
                    tracing::info!(partitions = ?partitions, "the group revoked partitions");
                    let mut assigned = self.assigned();
                    for (topic, partition) in &partitions {
                        assigned.remove(&(topic.clone(), *partition));
                        self.claims.release(topic, *partition);
                    }
                }
            }
            self.forget_members();
            self.wake.notify_one();
        }
    }

    /// Makes the claims match the assignment, every `CLUSTER_RECONCILE_MS` and after each
    /// change: claims what is assigned and not held (after a failed claim, or after a fence
    /// by a node whose claim raced a rebalance), releases what is held and not assigned.
    pub async fn reconcile(self: Arc<Self>) {
        loop {
            self.reconcile_once().await;
            let tick = tokio::time::sleep(Duration::from_millis(CLUSTER_RECONCILE_MS));
            tokio::select! {
                () = tick => {}
                () = self.wake.notified() => {}
            }
        }
    }

    async fn reconcile_once(&self) {
        let assigned: Vec<(String, u32)> = self.assigned().iter().cloned().collect();
        for (topic, partition) in self.claims.claimed() {
            if !assigned.contains(&(topic.clone(), partition)) {
                self.claims.release(&topic, partition);
            }
        }
        let missing: Vec<&(String, u32)> =
            assigned.iter().filter(|(t, p)| !self.claims.holds(t, *p)).collect();
        if missing.is_empty() {
            return;
        }
        // Claim only what the coordinator gives this node now: a node resumed after a pause
        // still believes its old assignment until the group tells it otherwise, and a claim
        // would fence the partition's real owner.
        self.forget_members();
        let members = match self.members().await {
            Ok(members) => members,
            Err(e) => return tracing::warn!(error = %e, "cannot read the group's members"),
        };
        let mine = members.iter().find(|m| m.address == self.address);
        for (topic, partition) in missing {
            let given = mine
                .is_some_and(|m| m.partitions.iter().any(|(t, p)| t == topic && p == partition));
            // Revoked while the claims before it were made: a claim now would fence the new
            // owner (which would claim again, but its writes would wait for it).
            if !given || !self.still_assigned(topic, *partition) {
                continue;
            }
            let started = Instant::now();
            match self.claims.claim(topic, *partition).await {
                Ok(()) if !self.still_assigned(topic, *partition) => {
                    self.claims.release(topic, *partition);
                }
                Ok(()) => tracing::info!(
                    topic,
                    partition,
                    claim_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "claimed"
                ),
                Err(e) => tracing::warn!(topic, partition, error = %e, "cannot claim; retrying"),
            }
        }
    }
}

impl Owners for Cluster {
    fn owns(&self, topic: &str, partition: u32) -> bool {
        self.claims.holds(topic, partition)
    }
    fn owned(&self) -> Option<Vec<(String, u32)>> {
        Some(self.claims.claimed())
    }
    fn owner_of<'a>(&'a self, topic: &'a str, partition: u32) -> Boxed<'a, Option<String>> {
        Box::pin(async move {
            let members = self.members().await.ok()?;
            members
                .into_iter()
                .find(|m| m.partitions.iter().any(|(t, p)| t == topic && *p == partition))
                .map(|m| m.address)
                .filter(|address| *address != self.address)
        })
    }
    fn address(&self) -> Option<&str> {
        Some(&self.address)
    }
}
