//! Shared setup for the benchmarks: pre-signed events, generated in parallel, so the cost of
//! signing stays out of what is measured.

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use ledger::world::{Citizen, World};
use ledger::{EmbeddedLog, Ledger};
use rayon::prelude::*;
use schemas::SignatureBytes;

pub const SEED: u64 = 99;
/// Records one RNG stream of the world signs; each stream's ids, salts and nonces are unique.
const RECORDS_PER_STREAM: usize = 256;

/// An endless supply of fresh, signed marksheets (about 560 bytes encoded) for registered
/// citizens: every call returns events never produced before.
#[derive(Debug)]
pub struct Marksheets {
    pub registrations: Vec<Vec<u8>>,
    citizens: Arc<Vec<Citizen>>,
    next_stream: usize,
}

impl Marksheets {
    pub fn new(citizens: usize) -> Self {
        let mut world = World::new(SEED);
        let mut registrations = vec![world.register_issuer(), world.register_requester()];
        let mut people = Vec::with_capacity(citizens);
        for _ in 0..citizens {
            let (citizen, record) = world.register_citizen();
            people.push(citizen);
            registrations.push(record);
        }
        Marksheets { registrations, citizens: Arc::new(people), next_stream: 1 }
    }

    /// `count` new marksheets, signed on all cores.
    pub fn take(&mut self, count: usize) -> Vec<Vec<u8>> {
        let first = self.next_stream;
        let streams = count.div_ceil(RECORDS_PER_STREAM);
        self.next_stream += streams;
        let citizens = &self.citizens;
        (0..streams)
            .into_par_iter()
            .flat_map_iter(|s| {
                let stream = first + s;
                let mut world = World::new(SEED);
                world.reseed(stream as u64);
                let take = RECORDS_PER_STREAM.min(count - s * RECORDS_PER_STREAM);
                (0..take)
                    .map(move |n| {
                        let citizen = &citizens[(stream * RECORDS_PER_STREAM + n) % citizens.len()];
                        world.issue_marksheet(citizen, &format!("2024-{stream}-{n}"))
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// The (message, signature, key) triples behind records signed by the world's issuer.
pub fn signatures(records: &[Vec<u8>]) -> Vec<(Vec<u8>, SignatureBytes, VerifyingKey)> {
    let key = World::new(SEED).issuer.key.verifying_key();
    records
        .par_iter()
        .map(|record| {
            let envelope = schemas::decode_record(record).expect("workload record decodes");
            let message = schemas::signing_bytes(&envelope.event).expect("encodes");
            (message, envelope.signature, key)
        })
        .collect()
}

/// A fresh embedded ledger in `dir` with the registrations appended.
pub async fn ledger(dir: &std::path::Path, registrations: &[Vec<u8>]) -> Ledger<EmbeddedLog> {
    let log = Arc::new(EmbeddedLog::open(dir).expect("open log"));
    let ledger = Ledger::open(log, World::new(SEED).config()).await.expect("open ledger");
    for chunk in registrations.chunks(1024) {
        for verdict in ledger.append(chunk.to_vec()).await.expect("append") {
            verdict.expect("registration accepted");
        }
    }
    ledger
}
