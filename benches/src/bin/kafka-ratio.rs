//! KafkaLog append throughput of signed ~590-byte events, side by side in one run with Kafka's
//! own producer benchmark (`org.apache.kafka.tools.ProducerPerformance`) at the same record
//! size, acks and idempotence, for each compression setting.
//!
//! Usage: KAFKA_BOOTSTRAP=host:port kafka-ratio [EVENTS]   (scripts/bench starts a broker)

use std::process::Command;
use std::time::Instant;

use ledger::{AppendRequest, Appended, KafkaLog, KafkaSettings, Log};
use locker_benches::Marksheets;
use rand_core::RngCore;

const PARTITIONS: u32 = 8;
const CALL_RECORDS: usize = 1024;

fn requests(records: &[Vec<u8>]) -> Vec<AppendRequest> {
    records
        .iter()
        .map(|record| {
            let (envelope, signed) = schemas::decode_signed_record(record).expect("decodes");
            AppendRequest {
                id: envelope.event.id,
                digest: ledger::crypto::event_hash(&signed, &envelope.signature),
                key: envelope.event.payload.partition_key().to_key_bytes(),
                value: record.clone(),
            }
        })
        .collect()
}

/// Kafka's own tool, on a topic made the same way; returns records per second.
fn producer_performance(
    bootstrap: &str,
    topic: &str,
    records: usize,
    size: usize,
    compression: &str,
) -> anyhow::Result<f64> {
    // Where cargo runs us from, not where we were compiled (a shared target directory).
    let script = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
        + "/../scripts/kafka";
    let classpath = Command::new(&script).arg("classpath").output()?;
    anyhow::ensure!(classpath.status.success(), "scripts/kafka classpath failed");
    let classpath = String::from_utf8(classpath.stdout)?;
    let output = Command::new("java")
        .args(["-Xmx512m", "-cp", classpath.trim(), "org.apache.kafka.tools.ProducerPerformance"])
        .args(["--topic", topic, "--num-records", &records.to_string()])
        .args(["--record-size", &size.to_string(), "--throughput", "-1", "--producer-props"])
        .arg(format!("bootstrap.servers={bootstrap}"))
        .args(["acks=all", "enable.idempotence=true", "linger.ms=2"])
        .arg(format!("compression.type={compression}"))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "ProducerPerformance failed: {stdout}");
    // The summary line: "N records sent, X records/sec (Y MB/sec), ..."
    let summary = stdout.lines().rev().find(|l| l.contains("records sent")).unwrap_or_default();
    let rate = summary
        .split(", ")
        .nth(1)
        .and_then(|part| part.split(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .ok_or_else(|| anyhow::anyhow!("no summary in ProducerPerformance output: {stdout}"))?;
    Ok(rate)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").map_err(|_| {
        anyhow::anyhow!("KAFKA_BOOTSTRAP is not set (scripts/bench starts a broker)")
    })?;
    let events: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(100_000);
    let run = rand_core::OsRng.next_u32();
    eprintln!("signing {events} events in advance...");
    let mut source = Marksheets::new(1000);
    let records = source.take(events);
    let size = records.iter().map(Vec::len).sum::<usize>() / records.len();
    println!(
        "{events} signed events of {size} bytes on average, {PARTITIONS} partitions, acks=all, idempotent"
    );
    // Warm the broker's JIT first, so that whichever case runs first is not penalised.
    {
        let index = tempfile::tempdir()?;
        let log = KafkaLog::open(KafkaSettings::single_broker(&bootstrap, index.path())).await?;
        let topic = format!("bench-warmup-{run:08x}");
        log.create_topic(&topic, PARTITIONS).await?;
        for call in source.take(50_000).chunks(CALL_RECORDS).map(requests) {
            log.append(&topic, call).await?;
        }
    }
    println!(
        "{:<12} {:>16} {:>22} {:>7}",
        "compression", "KafkaLog ev/s", "ProducerPerformance/s", "ratio"
    );
    for (round, compression) in ["none", "lz4", "none", "lz4"].into_iter().enumerate() {
        let index = tempfile::tempdir()?;
        let mut settings = KafkaSettings::single_broker(&bootstrap, index.path());
        settings.compression = compression;
        let log = KafkaLog::open(settings).await?;
        let topic = format!("bench-{compression}-{round}-{run:08x}");
        log.create_topic(&topic, PARTITIONS).await?;
        let calls: Vec<Vec<AppendRequest>> = records.chunks(CALL_RECORDS).map(requests).collect();
        let start = Instant::now();
        let mut appended = 0usize;
        for call in calls {
            for result in log.append(&topic, call).await? {
                anyhow::ensure!(matches!(result, Ok(Appended::New(_))), "{result:?}");
                appended += 1;
            }
        }
        let ours = appended as f64 / start.elapsed().as_secs_f64();
        let tool_topic = format!("bench-pp-{compression}-{round}-{run:08x}");
        log.create_topic(&tool_topic, PARTITIONS).await?;
        let theirs = producer_performance(&bootstrap, &tool_topic, events, size, compression)?;
        println!("{compression:<12} {ours:>16.0} {theirs:>22.0} {:>6.1}%", 100.0 * ours / theirs);
    }
    Ok(())
}
