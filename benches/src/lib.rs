//! Shared setup for the benchmarks: pre-signed events, generated in parallel, so the cost of
//! signing stays out of what is measured.

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use ledger::world::{Citizen, World};
use ledger::{EmbeddedLog, Ledger};
use rayon::prelude::*;
use schemas::SignatureBytes;

/// The allocator `locker` runs with (`cli`), so what is measured in process allocates as the
/// service does.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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

/// The issuer, the requester and `citizens` citizens, registered.
fn population(citizens: usize) -> (Vec<Vec<u8>>, Vec<Citizen>) {
    let mut world = World::new(SEED);
    let mut registrations = vec![world.register_issuer(), world.register_requester()];
    let mut people = Vec::with_capacity(citizens);
    for _ in 0..citizens {
        let (citizen, record) = world.register_citizen();
        people.push(citizen);
        registrations.push(record);
    }
    (registrations, people)
}

/// Runs `make(world, stream, count)` for fresh RNG streams in parallel and concatenates.
fn in_streams(
    next_stream: &mut usize,
    count: usize,
    make: impl Fn(&mut World, usize, usize) -> Vec<Vec<u8>> + Sync,
) -> Vec<Vec<u8>> {
    let first = *next_stream;
    let streams = count.div_ceil(RECORDS_PER_STREAM);
    *next_stream += streams;
    (0..streams)
        .into_par_iter()
        .flat_map_iter(|s| {
            let stream = first + s;
            let mut world = World::new(SEED);
            world.reseed(stream as u64);
            let take = RECORDS_PER_STREAM.min(count - s * RECORDS_PER_STREAM);
            make(&mut world, stream, take)
        })
        .collect()
}

impl Marksheets {
    pub fn new(citizens: usize) -> Self {
        let (registrations, people) = population(citizens);
        Marksheets { registrations, citizens: Arc::new(people), next_stream: 1 }
    }

    /// `count` new marksheets, signed on all cores.
    pub fn take(&mut self, count: usize) -> Vec<Vec<u8>> {
        let citizens = &self.citizens;
        in_streams(&mut self.next_stream, count, |world, stream, take| {
            (0..take)
                .map(|n| {
                    let citizen = &citizens[(stream * RECORDS_PER_STREAM + n) % citizens.len()];
                    world.issue_marksheet(citizen, &format!("2024-{stream}-{n}"))
                })
                .collect()
        })
    }
}

/// A realistic mix for the projections: per ten events, seven marksheets, a consent request,
/// its grant, and an upload (with its sealed file name); plus one very busy citizen.
#[derive(Debug)]
pub struct MixedEvents {
    registrations: Vec<Vec<u8>>,
    citizens: Arc<Vec<Citizen>>,
    heavy: Citizen,
    next_stream: usize,
}

impl MixedEvents {
    pub fn new(citizens: usize) -> Self {
        let (registrations, mut people) = population(citizens + 1);
        let heavy = people.pop().expect("one more citizen");
        MixedEvents { registrations, citizens: Arc::new(people), heavy, next_stream: 1 }
    }

    pub fn registrations(&self) -> Vec<Vec<u8>> {
        self.registrations.clone()
    }

    pub fn citizens(&self) -> &[Citizen] {
        &self.citizens
    }

    pub fn heavy_citizen(&self) -> Citizen {
        self.heavy.clone()
    }

    /// `count` marksheets, all for the busy citizen.
    pub fn marksheets_for_heavy(&mut self, count: usize) -> Vec<Vec<u8>> {
        let heavy = &self.heavy;
        in_streams(&mut self.next_stream, count, |world, stream, take| {
            (0..take).map(|n| world.issue_marksheet(heavy, &format!("H-{stream}-{n}"))).collect()
        })
    }

    /// `count` mixed events for the ordinary citizens.
    pub fn take(&mut self, count: usize) -> Vec<Vec<u8>> {
        let citizens = &self.citizens;
        in_streams(&mut self.next_stream, count, |world, stream, take| {
            let mut out = Vec::with_capacity(take);
            let mut last_request = None;
            for n in 0..take {
                let citizen = &citizens[(stream * 7 + n) % citizens.len()];
                let record = match (n % 10, last_request.take()) {
                    (7, _) => {
                        let (consent, record) = world.request_consent(citizen);
                        last_request = Some((citizen.clone(), consent));
                        record
                    }
                    (8, Some((asker, consent))) => {
                        world.grant_consent(&asker, consent, "in.gov.cbse-HSCER-any")
                    }
                    (9, _) => upload(world, citizen),
                    _ => world.issue_marksheet(citizen, &format!("M-{stream}-{n}")),
                };
                out.push(record);
            }
            out
        })
    }
}

fn upload(world: &mut World, citizen: &Citizen) -> Vec<u8> {
    use schemas::*;
    let name = Label::parse("bank-statement.pdf").expect("label");
    let data = PersonalData::Upload(UploadPersonal { file_name: name });
    let (personal, sealed) = world.seal(SealSubject::Locker(citizen.locker), &data);
    let payload = Payload::DocumentUploaded(DocumentUploaded {
        locker: citizen.locker,
        upload_id: Id16(world.random16()),
        content: ContentRef {
            hash: Digest32([3; 32]),
            media_type: MediaType::Pdf,
            size_bytes: 250_000,
        },
        personal,
    });
    world.record(Actor::Citizen(citizen.locker), &citizen.key, payload, Some(sealed))
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

/// Appends pre-signed records through a fresh embedded ledger in `dir` (every one must be new);
/// returns the log for what is measured next.
pub async fn logged(
    dir: &std::path::Path,
    records: &[Vec<u8>],
) -> Result<Arc<EmbeddedLog>, ledger::LedgerError> {
    eprintln!("appending {} events through the ledger...", records.len());
    let log = Arc::new(EmbeddedLog::open(dir)?);
    let ledger = Ledger::open(Arc::clone(&log), World::new(SEED).config()).await?;
    for chunk in records.chunks(4096) {
        for verdict in ledger.append(chunk.to_vec()).await? {
            assert!(matches!(verdict, Ok(ledger::Appended::New(_))), "{verdict:?}");
        }
    }
    Ok(log)
}

/// The raw parallel Ed25519 batch-verify rate of this machine now, over `count` signatures of
/// marksheets: the physical limit the ledger's own rates are measured against.
pub fn raw_verify_rate(count: usize) -> anyhow::Result<f64> {
    let records = Marksheets::new(1000).take(count);
    let triples = signatures(&records);
    let items: Vec<ledger::crypto::VerifyItem<'_>> = triples
        .iter()
        .map(|(message, signature, key)| ledger::crypto::VerifyItem { message, signature, key })
        .collect();
    let start = std::time::Instant::now();
    let verdicts = ledger::crypto::verify_all(&items);
    let rate = items.len() as f64 / start.elapsed().as_secs_f64();
    anyhow::ensure!(verdicts.iter().all(|ok| *ok), "a marksheet signature did not verify");
    Ok(rate)
}

/// The load tools' own runtime for their clients (two threads named `client`), beside the
/// server's in `DemoServer`.
pub fn client_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
}

/// `locker serve --demo` in this process, on its own two-thread runtime and a free loopback
/// port (the embedded log in `data`), for the HTTP load tools.
#[derive(Debug)]
pub struct DemoServer {
    pub base: String,
    runtime: tokio::runtime::Runtime,
    server: tokio::task::JoinHandle<Result<(), server::server::ServeError>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl DemoServer {
    pub fn start(data: &std::path::Path) -> anyhow::Result<Self> {
        Self::start_with(data, None)
    }

    /// With its document bytes in `blob_store` (none: the data folder's `files`).
    pub fn start_with(
        data: &std::path::Path,
        blob_store: Option<server::store::blobs::BlobSettings>,
    ) -> anyhow::Result<Self> {
        Self::start_edited(data, |config| config.blob_store = blob_store)
    }

    /// With the demo's configuration changed by `edit` first.
    pub fn start_edited(
        data: &std::path::Path,
        edit: impl FnOnce(&mut server::server::ServeConfig),
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("server")
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut config = server::server::ServeConfig {
            data: data.to_path_buf(),
            listen,
            kafka: None,
            kafka_replicas: 1,
            cluster_address: None,
            platform_key: None,
            demo: true,
            otp_gateway: None,
            topic_prefix: "locker".to_owned(),
            kyc: None,
            blob_store: None,
            pulls_per_hour: server::limits::PULLS_PER_HOUR,
            allow_private_pull_endpoints: false,
            public_url: None,
        };
        edit(&mut config);
        let server = runtime.spawn(async move {
            server::server::serve(config, async move {
                let _ = stopped.await;
            })
            .await
        });
        Ok(DemoServer { base: format!("http://{listen}"), runtime, server, stop })
    }

    /// Waits until the server answers `/healthz` with every partition applying (at most a
    /// minute).
    pub async fn ready(&self) -> anyhow::Result<()> {
        let public = client::citizen::Public::new(&self.base)?;
        let started = std::time::Instant::now();
        while public.health().await.is_err() {
            anyhow::ensure!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Logs the demo citizen in.
    pub async fn demo_session(&self) -> anyhow::Result<client::citizen::Citizen> {
        let public = client::citizen::Public::new(&self.base)?;
        Ok(public.log_in("asha", server::app::demo::DEMO_PASSWORD).await?)
    }

    /// Stops the server and waits for it.
    pub fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.runtime.block_on(self.server)??;
        Ok(())
    }
}
