//! Feeding a partition's tree from the log: every record after the tree's stored offset
//! becomes the next leaf, `H(0x00 || record bytes)`, in log order. Leaves this process's
//! ledger hashed as it appended them come from its tail (`crate::Tail`) without a read.

use crate::limits::READ_RECORDS_MAX;
use crate::log::Log;
use crate::tail::Tail;
use crate::{LedgerError, LogError};

use super::store::PartitionTree;
use crate::rfc9162::leaf_hash;

/// Reads the partition from where the tree stopped to the log's end (or takes the leaves
/// from `tail` where it holds them); returns the leaves added.
pub async fn catch_up<L: Log>(
    log: &L,
    tail: Option<&Tail>,
    topic: &str,
    partition: u32,
    tree: &mut PartitionTree<'_>,
) -> Result<u64, LedgerError> {
    let mut added = 0;
    loop {
        let kept = tail.map_or_else(Vec::new, |tail| {
            tail.take_leaves(topic, partition, tree.next_offset(), READ_RECORDS_MAX)
        });
        if let Some(&(last, _)) = kept.last() {
            tree.append(&kept, last + 1)?;
            tree.count_sources(true, kept.len() as u64);
            added += kept.len() as u64;
            continue;
        }
        let records = log.read(topic, partition, tree.next_offset(), READ_RECORDS_MAX).await?;
        let Some(last) = records.last() else { return Ok(added) };
        let next = last.position.offset + 1;
        if let Some(first) = records.first()
            && first.position.offset < tree.next_offset()
        {
            return Err(LogError::Corrupt {
                location: format!("{topic}/{partition} offset {}", first.position.offset),
                reason: format!("the log returned a record before offset {}", tree.next_offset()),
            }
            .into());
        }
        let leaves: Vec<_> = records
            .iter()
            .map(|record| (record.position.offset, leaf_hash(&record.value)))
            .collect();
        tree.append(&leaves, next)?;
        tree.count_sources(false, leaves.len() as u64);
        added += leaves.len() as u64;
    }
}
