//! The demo behind `scripts/run`: writes a small ledger of real signed events to a data folder
//! (an exam board, a bank, three citizens, marksheets, a consent), shows three forgeries
//! refused with their errors, and lists what the log holds. Running it again on the same
//! folder shows idempotency: every event is reported as already present.
//!
//! The log is embedded (RocksDB in DATA_DIR) unless `LOCKER_KAFKA` names Kafka brokers
//! (`host:port[,host:port]`); then the events go to Kafka and DATA_DIR keeps only the id index.

use std::sync::Arc;

use anyhow::Context;
use ledger::world::World;
use ledger::{Appended, EmbeddedLog, KafkaLog, KafkaSettings, Ledger, Log};
use schemas::{Actor, Payload};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args().nth(1).unwrap_or_else(|| "locker-data".to_owned()),
    );
    match std::env::var("LOCKER_KAFKA") {
        Ok(brokers) if !brokers.is_empty() => {
            println!("locker demo: ledger on Kafka at {brokers} (id index in {})\n", dir.display());
            let settings = KafkaSettings::single_broker(&brokers, dir.join("kafka-index"));
            let log = KafkaLog::open(settings).await.context("connect to Kafka")?;
            demo(Arc::new(log)).await
        }
        _ => {
            println!("locker demo: embedded ledger in {}\n", dir.join("log").display());
            demo(Arc::new(EmbeddedLog::open(dir.join("log")).context("open log")?)).await
        }
    }
}

async fn demo<L: Log>(log: Arc<L>) -> anyhow::Result<()> {
    let mut world = World::new(2024);
    let ledger = Ledger::open(Arc::clone(&log), world.config()).await?;

    let mut records = vec![world.register_issuer(), world.register_requester()];
    let mut citizens = Vec::new();
    for _ in 0..3 {
        let (citizen, record) = world.register_citizen();
        records.push(record);
        citizens.push(citizen);
    }
    for (n, citizen) in citizens.iter().enumerate() {
        records.push(world.issue_marksheet(citizen, &format!("2024-{:07}", 1_000_001 + n)));
    }
    let (consent, request) = world.request_consent(&citizens[0]);
    records.push(request);
    records.push(world.grant_consent(&citizens[0], consent, "in.gov.cbse-HSCER-2024-1000001"));
    let count = records.len();
    let mut fresh = 0;
    for verdict in ledger.append(records).await? {
        match verdict? {
            Appended::New(_) => fresh += 1,
            Appended::Existing(_) => {}
        }
    }
    println!("appended {fresh} new events, {} were already present\n", count - fresh);

    println!("refused, and the log is unchanged:");
    let mut forged = world.marksheet_envelope(&citizens[1], "2024-9999999");
    forged.signature.0[7] ^= 1;
    let requester = world.requester.clone();
    let issued = world.marksheet_envelope(&citizens[2], "2024-8888888");
    let attempts = [
        ("a marksheet with a tampered signature", schemas::encode_record(&forged)?),
        (
            "a bank trying to issue a marksheet",
            world.record(
                Actor::Requester(requester.id),
                &requester.key,
                issued.event.payload,
                issued.sealed,
            ),
        ),
        ("three random bytes", vec![1, 0, 9]),
    ];
    for (what, record) in attempts {
        match ledger.append_one(record).await {
            Err(e) => println!("  {what}: {e}"),
            Ok(appended) => anyhow::bail!("{what} was accepted at {appended:?}"),
        }
    }

    println!("\nthe log (topic / partition / offset: event, actor):");
    let config = ledger.config();
    for topic in [&config.directory_topic, &config.citizen_topic] {
        ledger::scan_topic(log.as_ref(), topic, |record| {
            let envelope = ledger::decode_logged(topic, record)?;
            let actor = match &envelope.event.actor {
                Actor::Platform => "platform".to_owned(),
                Actor::Issuer(id) => id.to_string(),
                Actor::Requester(id) => id.to_string(),
                Actor::Citizen(id) => format!("citizen {id}"),
            };
            let detail = match &envelope.event.payload {
                Payload::DocumentIssued(e) => format!(" {}", e.uri),
                Payload::CitizenRegistered(e) => format!(" {}", e.locker),
                _ => String::new(),
            };
            println!(
                "  {topic} / {} / {}: {}{detail}, by {actor}",
                record.position.partition,
                record.position.offset,
                envelope.event.payload.kind_name()
            );
            Ok::<(), ledger::LedgerError>(())
        })
        .await?;
    }
    let sample = world.marksheet_envelope(&citizens[0], "2024-1000001");
    println!("\nan issued marksheet in the API's JSON form (personal fields sealed):");
    println!("{}", schemas::envelope_to_json(&sample)?);
    Ok(())
}
