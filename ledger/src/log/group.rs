//! Who owns which partition: the nodes of a cluster join one Kafka consumer group over the
//! owned topics, with cooperative sticky assignment (a rebalance moves only the partitions
//! that must move). A member never reads records through the group (its partitions are
//! paused as soon as they are assigned; reads go through `KafkaLog`); the group only says
//! what each member owns and, through each member's `client.id`, where it can be reached.
//!
//! Ownership is advisory until fenced: a member told that a partition is assigned claims it
//! (`KafkaLog::claim`), which fences whoever held it before, so a member that was paused or
//! cut off and missed its revocation cannot append again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::TopicPartitionList;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::LogError;
use crate::limits::{GROUP_HEARTBEAT_MS, GROUP_SESSION_TIMEOUT_MS, KAFKA_REQUEST_TIMEOUT_MS};

/// A change of what this member owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These partitions are this member's now: claim them before appending.
    Assigned(Vec<(String, u32)>),
    /// These are not any more (given to another member, or lost with the session).
    Revoked(Vec<(String, u32)>),
}

/// A member of the group as the coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Where the member says it can be reached (its `client.id`).
    pub address: String,
    pub partitions: Vec<(String, u32)>,
}

/// This node's membership; leaves the group when dropped.
pub struct Membership {
    group: String,
    consumer: Arc<BaseConsumer<Owners>>,
    stop: Arc<AtomicBool>,
    poller: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership").field("group", &self.group).finish()
    }
}

/// Receives the group's rebalances on the consumer's poll thread.
struct Owners {
    changes: UnboundedSender<Change>,
}

impl ClientContext for Owners {}

impl ConsumerContext for Owners {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Before librdkafka lets the partitions go: stop appending first.
        if let Rebalance::Revoke(list) = rebalance {
            let _ = self.changes.send(Change::Revoked(partitions_of(list)));
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            // The group is for ownership only: never fetch records through it.
            if let Err(e) = consumer.pause(list) {
                tracing::warn!(error = %e, "cannot pause the group's partitions");
            }
            let _ = self.changes.send(Change::Assigned(partitions_of(list)));
        }
    }
}

fn partitions_of(list: &TopicPartitionList) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = list
        .elements()
        .iter()
        .filter_map(|e| u32::try_from(e.partition()).ok().map(|p| (e.topic().to_owned(), p)))
        .collect();
    out.sort();
    out
}

impl Membership {
    /// Joins `group` over `topics`, reachable at `address`. Changes of what this member owns
    /// arrive on the receiver, the first assignment within a rebalance of joining.
    pub fn join(
        bootstrap_servers: &str,
        group: &str,
        topics: &[&str],
        address: &str,
    ) -> Result<(Membership, UnboundedReceiver<Change>), LogError> {
        let (changes, received) = unbounded_channel();
        let consumer: BaseConsumer<Owners> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("group.id", group)
            .set("client.id", address)
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", GROUP_SESSION_TIMEOUT_MS.to_string())
            .set("heartbeat.interval.ms", GROUP_HEARTBEAT_MS.to_string())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "latest")
            .set("log_level", "3")
            .create_with_context(Owners { changes })
            .map_err(|e| unavailable("cannot create the group member", e))?;
        consumer.subscribe(topics).map_err(|e| unavailable("cannot join the group", e))?;
        let consumer = Arc::new(consumer);
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (consumer, stop) = (Arc::clone(&consumer), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("kafka-group".to_owned())
                .spawn(move || {
                    // Rebalance callbacks run inside poll; records never come (paused).
                    while !stop.load(Ordering::SeqCst) {
                        let _ = consumer.poll(Duration::from_millis(100));
                    }
                })
                .map_err(|e| LogError::Unavailable { reason: format!("group thread: {e}") })?
        };
        let membership =
            Membership { group: group.to_owned(), consumer, stop, poller: Some(poller) };
        Ok((membership, received))
    }

    /// Every member of the group and what it owns, as the group's coordinator says now.
    pub fn members(&self) -> Result<Vec<Member>, LogError> {
        let list = self
            .consumer
            .fetch_group_list(Some(&self.group), Duration::from_millis(KAFKA_REQUEST_TIMEOUT_MS))
            .map_err(|e| unavailable("cannot describe the group", e))?;
        let Some(group) = list.groups().iter().find(|g| g.name() == self.group) else {
            return Ok(Vec::new());
        };
        let mut members: Vec<Member> = group
            .members()
            .iter()
            .map(|m| Member {
                address: m.client_id().to_owned(),
                partitions: m.assignment().map(parse_assignment).unwrap_or_default(),
            })
            .collect();
        members.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(members)
    }

    /// The member that owns `partition` of `topic`, if the group has given it to one.
    pub fn owner_of(&self, topic: &str, partition: u32) -> Result<Option<Member>, LogError> {
        Ok(self
            .members()?
            .into_iter()
            .find(|m| m.partitions.iter().any(|(t, p)| t == topic && *p == partition)))
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        // The poller stops first: one thread polls the consumer at a time.
        self.stop.store(true, Ordering::SeqCst);
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
        // Leave at once, so the others take the partitions over without waiting for the
        // session to time out.
        self.consumer.unsubscribe();
        for _ in 0..10 {
            let _ = self.consumer.poll(Duration::from_millis(50));
        }
    }
}

fn unavailable(context: &str, e: rdkafka::error::KafkaError) -> LogError {
    LogError::Unavailable { reason: format!("{context}: {e}") }
}

/// The partitions in a member's assignment (Kafka's `ConsumerProtocolAssignment`: version
/// int16, then an array of (topic string, array of int32 partitions), then user data). What
/// does not parse is read as no partitions.
pub fn parse_assignment(bytes: &[u8]) -> Vec<(String, u32)> {
    let mut reader = Reader { bytes, at: 0 };
    let mut out = Vec::new();
    let parsed = (|| {
        reader.i16()?;
        for _ in 0..reader.count()? {
            let topic = reader.string()?;
            for _ in 0..reader.count()? {
                out.push((topic.clone(), u32::try_from(reader.i32()?).ok()?));
            }
        }
        Some(())
    })();
    if parsed.is_none() {
        return Vec::new();
    }
    out.sort();
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    /// An array length: negative (null) is empty; more than the bytes left is malformed.
    fn count(&mut self) -> Option<usize> {
        let n = usize::try_from(self.i32()?.max(0)).ok()?;
        (n <= self.bytes.len()).then_some(n)
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.i16()?).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ConsumerProtocolAssignment` version 0 as Kafka's protocol guide lays it out, for topic
    /// "t" partitions 0 and 2 and null user data. (The integration test checks the parse
    /// against what a real coordinator reports for members librdkafka assigned.)
    #[test]
    fn an_assignment_reads_as_kafka_writes_it() {
        let bytes = [
            0, 0, // version 0
            0, 0, 0, 1, // one topic
            0, 1, b't', // "t"
            0, 0, 0, 2, // two partitions
            0, 0, 0, 0, 0, 0, 0, 2, // 0, 2
            0xff, 0xff, 0xff, 0xff, // user data: null
        ];
        assert_eq!(parse_assignment(&bytes), vec![("t".to_owned(), 0), ("t".to_owned(), 2)]);
        assert_eq!(parse_assignment(&bytes[..9]), Vec::new(), "cut short: nothing");
        assert_eq!(parse_assignment(&[0, 0, 0x7f, 0xff, 0xff, 0xff]), Vec::new());
    }
}
