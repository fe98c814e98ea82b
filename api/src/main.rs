//! `locker`: a thin binary over the api crate.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "locker", version, about = "A digital document locker on a signed event ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service.
    Serve {
        /// Data folder: log, views, key vault, platform key.
        #[arg(long, env = "LOCKER_DATA", default_value = "locker-data")]
        data: PathBuf,
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, env = "LOCKER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Kafka brokers (host:port,...); without it the embedded log in the data folder is used.
        #[arg(long, env = "LOCKER_KAFKA")]
        kafka: Option<String>,
        /// Seed a demo directory and a demo citizen (idempotent).
        #[arg(long)]
        demo: bool,
        /// SMS gateway for one-time passwords (http://...); without it they go to the log.
        #[arg(long, env = "LOCKER_OTP_GATEWAY")]
        otp_gateway: Option<String>,
        /// Topic names start with this (`<prefix>.directory`, `<prefix>.events`).
        #[arg(long, env = "LOCKER_TOPIC_PREFIX", default_value = "locker")]
        topic_prefix: String,
        /// The Aadhaar authority's OTP and e-KYC service (http://...); without it Aadhaar
        /// linking is unavailable (--demo starts a reference authority of its own).
        #[arg(long, env = "LOCKER_KYC_PROVIDER", requires_all = ["kyc_authority_key", "kyc_aua"])]
        kyc_provider: Option<String>,
        /// The authority's Ed25519 public key (hex): its answers are trusted through it alone.
        #[arg(long, env = "LOCKER_KYC_AUTHORITY_KEY")]
        kyc_authority_key: Option<String>,
        /// CODE:LICENCE the authority issued the platform.
        #[arg(long, env = "LOCKER_KYC_AUA")]
        kyc_aua: Option<String>,
    },
    /// A reference Aadhaar authority (UIDAI's OTP and e-KYC API shape) for demos and tests:
    /// its own process, a residents file, its own signing key.
    UidaiReference {
        /// One JSON object a line: aadhaar, mobile, name, dob (DD-MM-YYYY), gender (M/F/T),
        /// address (UIDAI's Poa elements), status (active or suspended).
        #[arg(long)]
        residents: PathBuf,
        /// The authority's signing key (created, mode 0600, when missing).
        #[arg(long)]
        key: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// An AUA served, CODE:LICENCE (repeat for more).
        #[arg(long, env = "LOCKER_UIDAI_AUA", value_delimiter = ',')]
        aua: Vec<String>,
        /// SMS gateway for the codes (http://...); without it they go to the log, masked.
        #[arg(long)]
        sms_gateway: Option<String>,
        /// Exit when standard input closes (for a parent that starts it).
        #[arg(long)]
        exit_with_stdin: bool,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign a document as an issuer and push it to a locker.
    Issue(Box<IssueCli>),
    /// Operators: register issuers and requesters, rotate and revoke keys, suspend.
    Admin(Box<AdminArgs>),
    /// Act as a requester (a bank, a telco): ask for documents, read them, follow consents.
    Requester(Box<RequesterArgs>),
    /// Check a document's proof bundle offline, with only the ledger's public key. Exits 1
    /// when it does not verify, saying why.
    VerifyBundle {
        /// The bundle file (`GET /v1/citizen/certificates/{uri}/bundle`).
        file: PathBuf,
        /// The ledger's public key (hex), as published by the operator.
        #[arg(long)]
        ledger_key: Option<String>,
        /// Without --ledger-key: the data folder whose platform.key to trust.
        #[arg(long, env = "LOCKER_DATA", default_value = "locker-data")]
        data: PathBuf,
        /// The document's bytes, to check they are what the ledger holds.
        #[arg(long)]
        document: Option<PathBuf>,
        /// After the offline check, ask this service what became of the document since
        /// (revoked, updated): a bundle proves issuance, not current status.
        #[arg(long)]
        status_from: Option<String>,
    },
    /// Watch the ledger grow: check the service's signed checkpoints with the ledger key and
    /// prove each partition extends what the last round saw (state kept in a file). Exits 1
    /// when the log shrank, forked or was rewritten.
    Monitor {
        #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The ledger's public key (hex), as published by the operator.
        #[arg(long)]
        ledger_key: String,
        /// Where the checkpoints seen last time are kept.
        #[arg(long, default_value = "locker-monitor.json")]
        state: PathBuf,
    },
    /// Auditors: replay and check the whole log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Replays the log, checks every signature, permission and checkpoint, and names the
    /// first bad position. Exits 1 when the log does not check out.
    Verify {
        /// The data folder (the embedded log; stop `locker serve` first).
        #[arg(long, env = "LOCKER_DATA", default_value = "locker-data")]
        data: PathBuf,
        /// Read the log from Kafka instead.
        #[arg(long, env = "LOCKER_KAFKA")]
        kafka: Option<String>,
        #[arg(long, env = "LOCKER_TOPIC_PREFIX", default_value = "locker")]
        topic_prefix: String,
        /// The platform's public key (hex); by default from DATA/platform.key.
        #[arg(long)]
        ledger_key: Option<String>,
        /// Write the JSON report here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Resume after the roots of an earlier (passing) report: the records they cover are
        /// rehashed and compared with them, not re-verified.
        #[arg(long)]
        resume_from: Option<PathBuf>,
        /// Do not compare DATA/views with a rebuild from the log.
        #[arg(long)]
        no_views: bool,
    },
}

#[derive(clap::Args, Debug)]
struct AdminArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The platform's signing key (created by `locker serve` in its data folder).
    #[arg(long, env = "LOCKER_PLATFORM_KEY", default_value = "locker-data/platform.key")]
    platform_key: PathBuf,
    #[command(subcommand)]
    command: AdminCommand,
}

/// An organisation: exactly one of --issuer and --requester.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
struct OrgArg {
    #[arg(long)]
    issuer: Option<String>,
    #[arg(long)]
    requester: Option<String>,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Register an issuer with its doc types and public key.
    RegisterIssuer {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// CODE=Name, such as HSCER="Class XII Marksheet"; repeatable.
        #[arg(long = "doc-type", required = true)]
        doc_types: Vec<String>,
        /// The public key in hex, as `locker keys generate` prints it.
        #[arg(long)]
        key: String,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Register a requester with its public key.
    RegisterRequester {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// bank, telco, insurer, employer, government_department, educational_institution, other
        #[arg(long)]
        kind: String,
        #[arg(long)]
        key: String,
    },
    /// Add a key; with --retire, the old key stops signing new events.
    RotateKey {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        new_key: String,
        #[arg(long)]
        retire: Option<String>,
    },
    /// Revoke a compromised or lost key at once.
    RevokeKey {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        key_id: String,
        #[arg(long)]
        reason: String,
    },
    Suspend {
        #[command(flatten)]
        org: OrgArg,
        #[arg(long)]
        reason: String,
    },
    Reinstate {
        #[command(flatten)]
        org: OrgArg,
    },
}

#[derive(clap::Args, Debug)]
struct RequesterArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The requester's id, such as in.co.sbi.
    #[arg(long, env = "LOCKER_REQUESTER")]
    id: String,
    /// The requester's secret key file.
    #[arg(long, env = "LOCKER_REQUESTER_KEY")]
    key: PathBuf,
    #[command(subcommand)]
    command: RequesterCommand,
}

#[derive(Subcommand, Debug)]
enum RequesterCommand {
    /// The locker id of a citizen's username.
    Lookup { username: String },
    /// Ask a citizen for documents.
    Request {
        /// The citizen's username (or --locker).
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        locker: Option<String>,
        /// ISSUER/CODE for every document of a type, or a document URI; repeatable.
        #[arg(long = "doc", required = true)]
        docs: Vec<String>,
        /// know_your_customer, account_opening, employment, admission, passport_verification,
        /// loan_application, other
        #[arg(long, default_value = "know_your_customer")]
        purpose: String,
        #[arg(long, default_value = "Verification")]
        text: String,
        /// Days the citizen has to answer.
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Your consents and their states.
    Consents,
    /// Read every document granted under a consent (each read is logged).
    Fetch {
        consent: String,
        /// Write the documents' bytes into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Follow your consent events (Server-Sent Events) until interrupted.
    Events {
        #[arg(long)]
        last_event_id: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create an Ed25519 key pair: the secret goes to --out (mode 0600), the public key and its
    /// id are printed for registration.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
}

/// `locker issue ...` for one document, `locker issue bulk ...` for a results file.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct IssueCli {
    #[command(subcommand)]
    command: Option<IssueCommand>,
    #[command(flatten)]
    one: Option<IssueArgs>,
}

#[derive(Subcommand, Debug)]
enum IssueCommand {
    /// Issue a whole results file (CSV with a header row, or .ndjson): every row signed,
    /// streamed in batches, and reported (accepted, already present, rejected with its line
    /// and reason). Re-running the same file adds only what is missing.
    Bulk(Box<BulkArgs>),
}

#[derive(clap::Args, Debug)]
struct BulkArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The issuer's key file.
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    issuer: String,
    /// The results file: .csv (a header row names the columns) or .ndjson/.jsonl.
    file: PathBuf,
    #[arg(long)]
    doc_type: String,
    /// The documents' title, such as "Class XII Marksheet 2024".
    #[arg(long)]
    name: String,
    /// YYYY-MM-DD
    #[arg(long)]
    issued_on: String,
    #[arg(long)]
    valid_to: Option<String>,
    /// The column holding each document's id (a roll number).
    #[arg(long, default_value = "roll_no")]
    id_column: String,
    /// The column holding the holder's name.
    #[arg(long, default_value = "name")]
    holder_column: String,
    /// The column holding the recipient's locker id.
    #[arg(long, default_value = "locker")]
    locker_column: String,
    /// The column holding the recipient's Aadhaar number (used when the locker is empty).
    #[arg(long, default_value = "aadhaar")]
    aadhaar_column: String,
    /// A column naming the issuer; rows for another issuer are refused.
    #[arg(long, default_value = "issuer")]
    issuer_column: String,
    /// The columns that are fields of the document (marks); repeatable. By default every
    /// column not named above.
    #[arg(long = "field-column")]
    field_columns: Vec<String>,
    /// Rows per batch sent.
    #[arg(long, default_value_t = 1000)]
    batch_rows: usize,
    /// Batches on the wire at once.
    #[arg(long, default_value_t = 2)]
    in_flight: usize,
    /// Sign each batch with one signature over the Merkle root of its documents (each document
    /// carries its inclusion path and stays verifiable alone): one signature per batch
    /// instead of one per document, for the board and for every verifier.
    #[arg(long)]
    batch_sign: bool,
    /// Write the rejected rows here (CSV: line, doc_id, code, message).
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct IssueArgs {
    /// The locker service.
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The issuer's key file (from `locker keys generate`).
    #[arg(long)]
    key: PathBuf,
    /// The issuer's id, such as in.gov.cbse.
    #[arg(long)]
    issuer: String,
    /// The recipient's locker id (or --aadhaar).
    #[arg(long, required_unless_present = "aadhaar", conflicts_with = "aadhaar")]
    locker: Option<String>,
    /// The recipient's Aadhaar number, for a citizen without a locker yet: the document
    /// appears in the locker that links this Aadhaar.
    #[arg(long)]
    aadhaar: Option<String>,
    #[arg(long)]
    doc_type: String,
    #[arg(long)]
    doc_id: String,
    /// The document's title, such as "Class XII Marksheet 2024".
    #[arg(long)]
    name: String,
    /// YYYY-MM-DD
    #[arg(long)]
    issued_on: String,
    #[arg(long)]
    valid_from: Option<String>,
    #[arg(long)]
    valid_to: Option<String>,
    /// The holder's name (sealed: never in the log in the clear).
    #[arg(long)]
    holder: String,
    /// A structured field, KEY=VALUE; repeatable (sealed too).
    #[arg(long = "field")]
    fields: Vec<String>,
    /// The document itself (PDF, XML or JSON); its BLAKE3 hash and size go into the event.
    #[arg(long)]
    content: PathBuf,
    /// Register only the content's hash; by default the bytes are sent too, so the citizen
    /// can download them.
    #[arg(long)]
    hash_only: bool,
}

fn parsed<T>(what: &str, result: Result<T, schemas::SchemaError>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("--{what}: {e}"))
}

async fn issue_bulk(args: BulkArgs) -> anyhow::Result<()> {
    if args.batch_rows == 0 || args.batch_rows > api::limits::BULK_BATCH_ROWS_MAX {
        anyhow::bail!("--batch-rows: between 1 and {}", api::limits::BULK_BATCH_ROWS_MAX);
    }
    let request = client::bulk::BulkRequest {
        server: args.server,
        key: ledger::keyfile::read(&args.key).map_err(anyhow::Error::msg)?,
        issuer: parsed("issuer", schemas::IssuerId::parse(&args.issuer))?,
        file: args.file,
        doc_type: parsed("doc-type", schemas::DocTypeCode::parse(&args.doc_type))?,
        name: parsed("name", schemas::Label::parse(&args.name))?,
        issued_on: parsed("issued-on", schemas::CivilDate::parse(&args.issued_on))?,
        valid_to: args
            .valid_to
            .as_deref()
            .map(|t| parsed("valid-to", schemas::CivilDate::parse(t)))
            .transpose()?,
        id_column: args.id_column,
        holder_column: args.holder_column,
        locker_column: Some(args.locker_column),
        aadhaar_column: Some(args.aadhaar_column),
        issuer_column: Some(args.issuer_column),
        field_columns: args.field_columns,
        batch_rows: args.batch_rows,
        in_flight: args.in_flight.max(1),
        batch_sign: args.batch_sign,
        clock: std::sync::Arc::new(ledger::clock::SystemClock),
    };
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "locker issue bulk: {bar:30} {pos}/{len} rows, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let summary = client::bulk::run(request, |done, total| {
        bar.set_length(total.max(done));
        bar.set_position(done);
    })
    .await
    .map_err(anyhow::Error::msg)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "locker issue bulk: {} rows in {seconds:.1} s ({:.0} rows/s): {} accepted, {} already present, {} rejected",
        summary.rows,
        summary.rows as f64 / seconds.max(1e-9),
        summary.accepted,
        summary.already_present,
        summary.rejected.len()
    );
    for (line, doc_id, code, message) in summary.rejected.iter().take(10) {
        println!("  line {line} ({doc_id}): {code}: {message}");
    }
    if summary.rejected.len() > 10 {
        println!("  ... and {} more", summary.rejected.len() - 10);
    }
    if let Some(path) = args.report {
        std::fs::write(&path, summary.rejected_csv().map_err(anyhow::Error::msg)?)
            .map_err(|e| anyhow::anyhow!("--report {}: {e}", path.display()))?;
        println!("locker issue bulk: rejected rows written to {}", path.display());
    }
    if !summary.rejected.is_empty() {
        return Err(Exit(2).into());
    }
    Ok(())
}

async fn issue(args: IssueArgs) -> anyhow::Result<()> {
    let date = |what: &str, text: &Option<String>| -> anyhow::Result<Option<schemas::CivilDate>> {
        text.as_deref().map(|t| parsed(what, schemas::CivilDate::parse(t))).transpose()
    };
    let mut fields = Vec::new();
    for field in &args.fields {
        let (key, value) =
            field.split_once('=').ok_or_else(|| anyhow::anyhow!("--field {field:?}: KEY=VALUE"))?;
        fields.push(schemas::DocumentField {
            key: parsed("field", schemas::FieldKey::parse(key))?,
            value: parsed("field", schemas::FieldValue::parse(value))?,
        });
    }
    let request = client::issue::IssueRequest {
        server: args.server,
        key: ledger::keyfile::read(&args.key).map_err(anyhow::Error::msg)?,
        issuer: parsed("issuer", schemas::IssuerId::parse(&args.issuer))?,
        to: match (&args.locker, &args.aadhaar) {
            (Some(locker), _) => {
                client::issue::To::Locker(parsed("locker", schemas::LockerId::parse(locker))?)
            }
            (None, Some(aadhaar)) => {
                client::issue::To::Aadhaar(parsed("aadhaar", schemas::Aadhaar::parse(aadhaar))?)
            }
            (None, None) => anyhow::bail!("name the recipient with --locker or --aadhaar"),
        },
        doc_type: parsed("doc-type", schemas::DocTypeCode::parse(&args.doc_type))?,
        doc_id: parsed("doc-id", schemas::DocId::parse(&args.doc_id))?,
        name: parsed("name", schemas::Label::parse(&args.name))?,
        issued_on: parsed("issued-on", schemas::CivilDate::parse(&args.issued_on))?,
        valid_from: date("valid-from", &args.valid_from)?,
        valid_to: date("valid-to", &args.valid_to)?,
        holder: parsed("holder", schemas::Label::parse(&args.holder))?,
        fields,
        content: std::fs::read(&args.content)
            .map_err(|e| anyhow::anyhow!("--content {}: {e}", args.content.display()))?,
        hash_only: args.hash_only,
        now: ledger::clock::Clock::now(&ledger::clock::SystemClock),
    };
    let (status, answer) = client::issue::issue(request).await.map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        (200..300).contains(&status),
        "the service refused the document (HTTP {status}): {answer}"
    );
    println!("{answer}");
    Ok(())
}

fn now() -> schemas::TimestampMs {
    ledger::clock::Clock::now(&ledger::clock::SystemClock)
}

fn organisation(org: &OrgArg) -> anyhow::Result<(schemas::Organisation, schemas::Principal)> {
    use schemas::{Organisation, Principal};
    match (&org.issuer, &org.requester) {
        (Some(id), None) => {
            let id = parsed("issuer", schemas::IssuerId::parse(id))?;
            Ok((Organisation::Issuer(id.clone()), Principal::Issuer(id)))
        }
        (None, Some(id)) => {
            let id = parsed("requester", schemas::RequesterId::parse(id))?;
            Ok((Organisation::Requester(id.clone()), Principal::Requester(id)))
        }
        _ => anyhow::bail!("name exactly one of --issuer and --requester"),
    }
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| anyhow::anyhow!("--{what} {text:?}: {e}"))
}

async fn admin(args: AdminArgs) -> anyhow::Result<()> {
    use schemas::*;
    let platform = ledger::keyfile::read(&args.platform_key)
        .map_err(|e| anyhow::anyhow!("--platform-key {}: {e}", args.platform_key.display()))?;
    let key = |text: &str| client::admin::public_key(text).map_err(anyhow::Error::msg);
    let payload = match args.command {
        AdminCommand::RegisterIssuer { id, name, doc_types, key: public, endpoint } => {
            let mut entries = Vec::new();
            for entry in &doc_types {
                let (code, name) = entry
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--doc-type {entry:?}: CODE=Name"))?;
                entries.push(DocTypeEntry {
                    code: parsed("doc-type", DocTypeCode::parse(code))?,
                    name: parsed("doc-type", Label::parse(name))?,
                });
            }
            Payload::IssuerRegistered(IssuerRegistered {
                issuer: parsed("id", IssuerId::parse(&id))?,
                name: parsed("name", Label::parse(&name))?,
                doc_types: entries,
                keys: vec![key(&public)?],
                endpoint: endpoint.map(|e| parsed("endpoint", Endpoint::parse(&e))).transpose()?,
            })
        }
        AdminCommand::RegisterRequester { id, name, kind, key: public } => {
            Payload::RequesterRegistered(RequesterRegistered {
                requester: parsed("id", RequesterId::parse(&id))?,
                name: parsed("name", Label::parse(&name))?,
                kind: from_json("kind", &kind)?,
                keys: vec![key(&public)?],
            })
        }
        AdminCommand::RotateKey { org, new_key, retire } => Payload::KeyRotated(KeyRotated {
            owner: organisation(&org)?.1,
            new_key: key(&new_key)?,
            retired_key_id: retire.map(|k| parsed("retire", KeyId::from_hex(&k))).transpose()?,
        }),
        AdminCommand::RevokeKey { org, key_id, reason } => Payload::KeyRevoked(KeyRevoked {
            owner: organisation(&org)?.1,
            key_id: parsed("key-id", KeyId::from_hex(&key_id))?,
            reason: parsed("reason", Reason::parse(&reason))?,
        }),
        AdminCommand::Suspend { org, reason } => {
            Payload::OrganisationSuspended(OrganisationSuspended {
                organisation: organisation(&org)?.0,
                reason: parsed("reason", Reason::parse(&reason))?,
            })
        }
        AdminCommand::Reinstate { org } => {
            Payload::OrganisationReinstated(OrganisationReinstated {
                organisation: organisation(&org)?.0,
            })
        }
    };
    let (status, answer) = client::admin::submit(&args.server, &platform, payload, now())
        .await
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        (200..300).contains(&status),
        "the service refused it (HTTP {status}): {answer}"
    );
    println!("{answer}");
    Ok(())
}

async fn requester(args: RequesterArgs) -> anyhow::Result<()> {
    use schemas::*;
    let client = client::requester::RequesterClient::new(
        &args.server,
        parsed("id", RequesterId::parse(&args.id))?,
        ledger::keyfile::read(&args.key)
            .map_err(|e| anyhow::anyhow!("--key {}: {e}", args.key.display()))?,
        std::sync::Arc::new(ledger::clock::SystemClock),
    );
    let ok = |(status, answer): (u16, String)| -> anyhow::Result<String> {
        anyhow::ensure!((200..300).contains(&status), "HTTP {status}: {answer}");
        Ok(answer)
    };
    match args.command {
        RequesterCommand::Lookup { username } => {
            println!("{}", ok(client.lookup(&username).await.map_err(anyhow::Error::msg)?)?)
        }
        RequesterCommand::Request { username, locker, docs, purpose, text, days } => {
            let locker = match (username, locker) {
                (_, Some(locker)) => parsed("locker", LockerId::parse(&locker))?,
                (Some(username), None) => {
                    let found: serde_json::Value = serde_json::from_str(&ok(client
                        .lookup(&username)
                        .await
                        .map_err(anyhow::Error::msg)?)?)?;
                    parsed(
                        "username",
                        LockerId::parse(found["locker"].as_str().unwrap_or_default()),
                    )?
                }
                (None, None) => anyhow::bail!("name the citizen with --username or --locker"),
            };
            let mut items = Vec::new();
            for doc in &docs {
                items.push(match doc.split_once('/') {
                    Some((issuer, code)) => ConsentItem::DocType {
                        issuer: parsed("doc", IssuerId::parse(issuer))?,
                        doc_type: parsed("doc", DocTypeCode::parse(code))?,
                    },
                    None => ConsentItem::Document(parsed("doc", DocUri::parse(doc))?),
                });
            }
            let purpose = Purpose {
                code: from_json("purpose", &purpose)?,
                text: parsed("text", Reason::parse(&text))?,
            };
            let (answer, consent) =
                client.request(locker, items, purpose, days).await.map_err(anyhow::Error::msg)?;
            ok(answer)?;
            println!("consent {consent} requested from locker {locker}");
        }
        RequesterCommand::Consents => {
            println!("{}", ok(client.consents().await.map_err(anyhow::Error::msg)?)?)
        }
        RequesterCommand::Fetch { consent, out } => {
            let consent = parsed("consent", Id16::from_hex(&consent))?;
            for answer in client.fetch_all(consent).await.map_err(anyhow::Error::msg)? {
                let answer: serde_json::Value = serde_json::from_str(&ok(answer)?)?;
                let name = answer["uri"]
                    .as_str()
                    .or(answer["upload_id"].as_str())
                    .unwrap_or("document")
                    .to_owned();
                println!(
                    "{name}: {} ({} bytes, hash {})",
                    answer["name"], answer["size_bytes"], answer["content_hash"]
                );
                if let (Some(dir), Some(content)) = (&out, answer["content"].as_str()) {
                    use base64::Engine;
                    let bytes = base64::engine::general_purpose::STANDARD.decode(content)?;
                    std::fs::create_dir_all(dir)?;
                    let path = dir.join(&name);
                    std::fs::write(&path, bytes)?;
                    println!("  saved {}", path.display());
                }
            }
        }
        RequesterCommand::Events { last_event_id } => {
            use std::io::Write;
            let status = client
                .events(last_event_id.as_deref(), |text| {
                    let mut stdout = std::io::stdout();
                    stdout.write_all(text.as_bytes()).is_ok() && stdout.flush().is_ok()
                })
                .await
                .map_err(anyhow::Error::msg)?;
            anyhow::ensure!(status == 200, "the service refused the stream (HTTP {status})");
        }
    }
    Ok(())
}

/// Errors are said in one line (with their causes), never as a backtrace: they are for the
/// person at the terminal.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Said already (a verdict on stdout): only the code is left to give.
        Err(e) if e.downcast_ref::<Exit>().is_some() => {
            e.downcast_ref::<Exit>().map_or(std::process::ExitCode::FAILURE, |exit| exit.0.into())
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A command's verdict that is not success (an audit that failed, rows refused), already
/// printed: `main` turns it into the exit code, so nothing calls `process::exit` from async
/// code (which would skip every destructor, and the stores' with them).
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

async fn run() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // LOCKER_LOG_FORMAT=json: one JSON object per line, for log collectors.
    if std::env::var("LOCKER_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            // Colours only for a terminal; a log file or a pipe gets plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match Cli::parse().command {
        Command::Keys { command: KeysCommand::Generate { out } } => {
            let mut bytes = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
            let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
            ledger::keyfile::write_new(&out, &key).map_err(anyhow::Error::msg)?;
            let public: String =
                key.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
            println!("secret key: {} (keep it safe)", out.display());
            println!("public key: {public}");
            println!("key id:     {}", ledger::crypto::key_id_of(&key.verifying_key()));
            Ok(())
        }
        Command::Issue(cli) => match (cli.command, cli.one) {
            (Some(IssueCommand::Bulk(args)), _) => issue_bulk(*args).await,
            (None, Some(args)) => issue(args).await,
            (None, None) => anyhow::bail!("say what to issue: see `locker issue --help`"),
        },
        Command::Admin(args) => admin(*args).await,
        Command::Requester(args) => requester(*args).await,
        Command::Audit {
            command:
                AuditCommand::Verify {
                    data,
                    kafka,
                    topic_prefix,
                    ledger_key,
                    report,
                    resume_from,
                    no_views,
                },
        } => {
            let args = api::audit::AuditArgs {
                data,
                kafka,
                topic_prefix,
                ledger_key,
                resume_from,
                views: !no_views,
            };
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "locker audit: {bar:30} {pos}/{len} records, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let verdict = api::audit::verify(&args, |done, total| {
                bar.set_length(total.max(done));
                bar.set_position(done);
            })
            .await
            .map_err(anyhow::Error::msg)?;
            bar.finish_and_clear();
            let json = api::audit::report_json(&verdict);
            if let Some(path) = report {
                std::fs::write(&path, &json)
                    .map_err(|e| anyhow::anyhow!("--report {}: {e}", path.display()))?;
            }
            let result = &verdict.report;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "locker audit: {} records ({} under trusted roots), {} signatures, {} checkpoints verified in {seconds:.1} s ({:.0} records/s)",
                result.records,
                result.trusted_records,
                result.signatures_verified,
                result.checkpoints_verified,
                result.records as f64 / seconds.max(1e-9)
            );
            match &verdict.views {
                api::audit::ViewsCheck::NotCompared(why) => {
                    println!("locker audit: views not compared ({why})");
                }
                api::audit::ViewsCheck::Compared { live, rebuilt, records } if live == rebuilt => {
                    println!(
                        "locker audit: views match a rebuild from the log ({records} records, digest {live})"
                    );
                }
                api::audit::ViewsCheck::Compared { live, rebuilt, .. } => {
                    println!(
                        "locker audit: FAILED: the live views (digest {live}) differ from a rebuild from the same log positions (digest {rebuilt})"
                    );
                    return Err(Exit(1).into());
                }
            }
            match &result.failure {
                None => {
                    println!("locker audit: OK");
                    Ok(())
                }
                Some(failure) => {
                    println!("locker audit: FAILED at {failure}");
                    Err(Exit(1).into())
                }
            }
        }
        Command::Monitor { server, ledger_key, state } => {
            let key = api::audit::trusted_ledger_key(std::path::Path::new("."), Some(&ledger_key))
                .map_err(anyhow::Error::msg)?;
            match client::monitor::round(&server, &key, &state).await {
                Ok(partitions) => {
                    for (name, seen) in partitions {
                        match seen {
                            client::monitor::Seen::First { size } => {
                                println!("{name}: {size} records (first seen)");
                            }
                            client::monitor::Seen::Same { size } => {
                                println!("{name}: {size} records (unchanged)");
                            }
                            client::monitor::Seen::Grew { from, to } => {
                                println!("{name}: grew from {from} to {to} records, consistently");
                            }
                        }
                    }
                    Ok(())
                }
                Err(reason) => {
                    println!("FAILED: {reason}");
                    Err(Exit(1).into())
                }
            }
        }
        Command::VerifyBundle { file, ledger_key, data, document, status_from } => {
            let key = api::audit::trusted_ledger_key(&data, ledger_key.as_deref())
                .map_err(anyhow::Error::msg)?;
            let read = |path: &PathBuf| {
                std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            };
            let bundle = read(&file)?;
            let document = document.as_ref().map(read).transpose()?;
            match verifier::verify_bundle_file(&bundle, &key, document.as_deref()) {
                Ok(verified) => {
                    print!("{}", verified.report());
                    if let Some(server) = status_from {
                        println!(
                            "  status now: {}",
                            client::status::ask_status(&server, bundle)
                                .await
                                .map_err(anyhow::Error::msg)?
                        );
                    }
                    Ok(())
                }
                Err(reason) => {
                    println!("NOT VERIFIED: {reason}");
                    Err(Exit(1).into())
                }
            }
        }
        Command::UidaiReference { residents, key, listen, aua, sms_gateway, exit_with_stdin } => {
            let args = api::uidai::AuthorityArgs {
                residents,
                key,
                listen,
                auas: aua,
                sms_gateway,
                exit_with_stdin,
            };
            api::uidai::run_authority(args).await.map_err(anyhow::Error::msg)
        }
        Command::Serve {
            data,
            listen,
            kafka,
            demo,
            otp_gateway,
            topic_prefix,
            kyc_provider,
            kyc_authority_key,
            kyc_aua,
        } => {
            let kyc = match (kyc_provider, kyc_authority_key, kyc_aua) {
                (Some(provider), Some(authority_key), Some(aua)) => {
                    Some(api::server::KycSettings { provider, authority_key, aua })
                }
                _ => None,
            };
            let config = api::server::ServeConfig {
                data,
                listen,
                kafka,
                demo,
                otp_gateway,
                topic_prefix,
                kyc,
            };
            // Ctrl-C at a terminal, SIGTERM from a service manager (systemd, Kubernetes).
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let shutdown = async move {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            };
            Ok(api::server::serve(config, shutdown).await?)
        }
    }
}
