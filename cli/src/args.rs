//! The `locker` command line: every command and its flags (clap), nothing else.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "locker", version, about = "A digital document locker on a signed event ledger")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// A reference Aadhaar authority (UIDAI's OTP and e-KYC API shape) for demos and tests:
    /// its own process, a residents file, its own signing key.
    UidaiReference(UidaiArgs),
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign a document as an issuer and push it to a locker.
    Issue(Box<IssueCli>),
    /// Issuers: declare a doc type's fields and how citizens pull it; serve pulls from a
    /// results file (the reference pull endpoint).
    Issuer(Box<IssuerArgs>),
    /// Operators: register issuers and requesters, rotate and revoke keys, suspend.
    Admin(Box<AdminArgs>),
    /// Act as a requester (a bank, a telco): ask for documents, read them, follow consents.
    Requester(Box<RequesterArgs>),
    /// Check a document's proof bundle offline, with only the ledger's public key. Exits 1
    /// when it does not verify, saying why.
    VerifyBundle(VerifyBundleArgs),
    /// Watch the ledger grow: check the service's signed checkpoints with the ledger key and
    /// prove each partition extends what the last round saw (state kept in a file). Exits 1
    /// when the log shrank, forked or was rewritten.
    Monitor(MonitorArgs),
    /// Auditors: replay and check the whole log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Replays the log, checks every signature, permission and checkpoint, and names the
    /// first bad position. Exits 1 when the log does not check out.
    Verify(AuditVerifyArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct AdminArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// The platform's signing key (created by `locker serve` in its data folder).
    #[arg(long, env = "LOCKER_PLATFORM_KEY", default_value = "locker-data/platform.key")]
    pub(crate) platform_key: PathBuf,
    #[command(subcommand)]
    pub(crate) command: AdminCommand,
}

/// An organisation: exactly one of --issuer and --requester.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub(crate) struct OrgArg {
    #[arg(long)]
    pub(crate) issuer: Option<String>,
    #[arg(long)]
    pub(crate) requester: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum AdminCommand {
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
    /// Snapshot the node's views and key registry into its object store now (they are also
    /// taken every 15 minutes); a node starts from the latest and replays only the log after.
    Snapshot,
}

#[derive(clap::Args, Debug)]
pub(crate) struct RequesterArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// The requester's id, such as in.co.sbi.
    #[arg(long, env = "LOCKER_REQUESTER")]
    pub(crate) id: String,
    /// The requester's secret key file.
    #[arg(long, env = "LOCKER_REQUESTER_KEY")]
    pub(crate) key: PathBuf,
    #[command(subcommand)]
    pub(crate) command: RequesterCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum RequesterCommand {
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
        /// Ask with the terms of an Account Aggregator consent: at most this many fetches
        /// in any --per.
        #[arg(long)]
        fetches: Option<u32>,
        /// hour, day, month (30 days) or year (365 days).
        #[arg(long, default_value = "day", requires = "fetches")]
        per: String,
        /// Days you keep what you fetch.
        #[arg(long, default_value_t = 30, requires = "fetches")]
        data_life_days: u32,
        /// Days access may last from now.
        #[arg(long, default_value_t = 90, requires = "fetches")]
        access_days: u32,
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
pub(crate) enum KeysCommand {
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
pub(crate) struct IssueCli {
    #[command(subcommand)]
    pub(crate) command: Option<IssueCommand>,
    #[command(flatten)]
    pub(crate) one: Option<IssueArgs>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum IssueCommand {
    /// Issue a whole results file (CSV with a header row, or .ndjson): every row signed,
    /// streamed in batches, and reported (accepted, already present, rejected with its line
    /// and reason). Re-running the same file adds only what is missing.
    Bulk(Box<BulkArgs>),
}

/// What a results file's documents are, and which columns say whose: `locker issue bulk`
/// and `locker issuer serve` read the same files.
#[derive(clap::Args, Debug)]
pub(crate) struct ResultsArgs {
    #[arg(long)]
    pub(crate) doc_type: String,
    /// The documents' title, such as "Class XII Marksheet 2024".
    #[arg(long)]
    pub(crate) name: String,
    /// YYYY-MM-DD
    #[arg(long)]
    pub(crate) issued_on: String,
    /// The column holding each document's id (a roll number).
    #[arg(long, default_value = "roll_no")]
    pub(crate) id_column: String,
    /// The column holding the holder's name.
    #[arg(long, default_value = "name")]
    pub(crate) holder_column: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct BulkArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// The issuer's key file.
    #[arg(long)]
    pub(crate) key: PathBuf,
    #[arg(long)]
    pub(crate) issuer: String,
    /// The results file: .csv (a header row names the columns) or .ndjson/.jsonl.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
    #[arg(long)]
    pub(crate) valid_to: Option<String>,
    /// The column holding the recipient's locker id.
    #[arg(long, default_value = "locker")]
    pub(crate) locker_column: String,
    /// The column holding the recipient's Aadhaar number (used when the locker is empty).
    #[arg(long, default_value = "aadhaar")]
    pub(crate) aadhaar_column: String,
    /// A column naming the issuer; rows for another issuer are refused.
    #[arg(long, default_value = "issuer")]
    pub(crate) issuer_column: String,
    /// The columns that are fields of the document (marks); repeatable. By default every
    /// column not named above.
    #[arg(long = "field-column")]
    pub(crate) field_columns: Vec<String>,
    /// Rows per batch sent.
    #[arg(long, default_value_t = 1000)]
    pub(crate) batch_rows: usize,
    /// Batches on the wire at once.
    #[arg(long, default_value_t = 2)]
    pub(crate) in_flight: usize,
    /// Sign each batch with one signature over the Merkle root of its documents (each document
    /// carries its inclusion path and stays verifiable alone): one signature per batch
    /// instead of one per document, for the board and for every verifier.
    #[arg(long)]
    pub(crate) batch_sign: bool,
    /// Write the rejected rows here (CSV: line, doc_id, code, message).
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct IssueArgs {
    /// The locker service.
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// The issuer's key file (from `locker keys generate`).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// The issuer's id, such as in.gov.cbse.
    #[arg(long)]
    pub(crate) issuer: String,
    /// The recipient's locker id (or --aadhaar).
    #[arg(long, required_unless_present = "aadhaar", conflicts_with = "aadhaar")]
    pub(crate) locker: Option<String>,
    /// The recipient's Aadhaar number, for a citizen without a locker yet: the document
    /// appears in the locker that links this Aadhaar.
    #[arg(long)]
    pub(crate) aadhaar: Option<String>,
    #[arg(long)]
    pub(crate) doc_type: String,
    #[arg(long)]
    pub(crate) doc_id: String,
    /// The document's title, such as "Class XII Marksheet 2024".
    #[arg(long)]
    pub(crate) name: String,
    /// YYYY-MM-DD
    #[arg(long)]
    pub(crate) issued_on: String,
    #[arg(long)]
    pub(crate) valid_from: Option<String>,
    #[arg(long)]
    pub(crate) valid_to: Option<String>,
    /// The holder's name (sealed: never in the log in the clear).
    #[arg(long)]
    pub(crate) holder: String,
    /// A structured field, KEY=VALUE; repeatable (sealed too).
    #[arg(long = "field")]
    pub(crate) fields: Vec<String>,
    /// The document itself (PDF, XML or JSON); its BLAKE3 hash and size go into the event.
    #[arg(long)]
    pub(crate) content: PathBuf,
    /// Register only the content's hash; by default the bytes are sent too, so the citizen
    /// can download them.
    #[arg(long)]
    pub(crate) hash_only: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// Data folder: log, views, key vault, platform key.
    #[arg(long, env = "LOCKER_DATA", default_value = "locker-data")]
    pub(crate) data: PathBuf,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "LOCKER_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Kafka brokers (host:port,...); without it the embedded log in the data folder is used.
    #[arg(long, env = "LOCKER_KAFKA")]
    pub(crate) kafka: Option<String>,
    /// Copies Kafka keeps of each topic it creates: 3 in production (an append is acknowledged
    /// once a majority holds it), 1 on a single development broker.
    #[arg(long, env = "LOCKER_KAFKA_REPLICAS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=7))]
    pub(crate) kafka_replicas: u16,
    /// Join a cluster of nodes on the same Kafka topics, reachable by the others at this URL
    /// (http://host:port): each node appends only to the partitions the group gives it, and
    /// sends a write for another node's partition on to that node. Needs --kafka and
    /// --platform-key.
    #[arg(long, env = "LOCKER_CLUSTER_ADDRESS", requires = "kafka", requires = "platform_key")]
    pub(crate) cluster_address: Option<String>,
    /// The platform's signing key (a key file, as `locker keys generate --out` writes it); by default one is
    /// created in the data folder. Every node of a cluster uses the same.
    #[arg(long, env = "LOCKER_PLATFORM_KEY")]
    pub(crate) platform_key: Option<PathBuf>,
    /// Seed a demo directory and a demo citizen (idempotent).
    #[arg(long)]
    pub(crate) demo: bool,
    /// SMS gateway for one-time passwords (http://...); without it they go to the log.
    #[arg(long, env = "LOCKER_OTP_GATEWAY")]
    pub(crate) otp_gateway: Option<String>,
    /// Topic names start with this (`<prefix>.directory`, `<prefix>.events`).
    #[arg(long, env = "LOCKER_TOPIC_PREFIX", default_value = "locker")]
    pub(crate) topic_prefix: String,
    /// The Aadhaar authority's OTP and e-KYC service (http://...); without it Aadhaar
    /// linking is unavailable (--demo starts a reference authority of its own).
    #[arg(long, env = "LOCKER_KYC_PROVIDER", requires_all = ["kyc_authority_key", "kyc_aua"])]
    pub(crate) kyc_provider: Option<String>,
    /// The authority's Ed25519 public key (hex): its answers are trusted through it alone.
    #[arg(long, env = "LOCKER_KYC_AUTHORITY_KEY")]
    pub(crate) kyc_authority_key: Option<String>,
    /// CODE:LICENCE the authority issued the platform.
    #[arg(long, env = "LOCKER_KYC_AUA")]
    pub(crate) kyc_aua: Option<String>,
    /// Where document bytes go: a folder, or an S3-compatible bucket (`s3://bucket` or
    /// `s3://bucket/prefix`; endpoint, region and credentials from LOCKER_S3_ENDPOINT,
    /// LOCKER_S3_REGION, LOCKER_S3_ACCESS_KEY and LOCKER_S3_SECRET_KEY, or the AWS_*
    /// equivalents). Default: the folder `files` in the data folder.
    #[arg(long, env = "LOCKER_BLOB_STORE")]
    pub(crate) blob_store: Option<String>,
    /// Pulls each locker may make an hour (each asks an issuer's service).
    #[arg(long, env = "LOCKER_PULLS_PER_HOUR", default_value_t = server::limits::PULLS_PER_HOUR)]
    pub(crate) pulls_per_hour: u64,
    /// Call issuers' pull endpoints on loopback and private addresses too (issuers on the
    /// operator's own network); by default only public addresses are called. --demo implies it.
    #[arg(long, env = "LOCKER_ALLOW_PRIVATE_PULL_ENDPOINTS")]
    pub(crate) allow_private_pull_endpoints: bool,
    /// The address citizens reach the service at (https://locker.example), which the QR codes
    /// on documents and slips open; by default the address each request came to (its Host).
    #[arg(long, env = "LOCKER_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct UidaiArgs {
    /// One JSON object a line: aadhaar, mobile, name, dob (DD-MM-YYYY), gender (M/F/T),
    /// address (UIDAI's Poa elements), status (active or suspended).
    #[arg(long)]
    pub(crate) residents: PathBuf,
    /// The authority's signing key (created, mode 0600, when missing).
    #[arg(long)]
    pub(crate) key: PathBuf,
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub(crate) listen: SocketAddr,
    /// An AUA served, CODE:LICENCE (repeat for more).
    #[arg(long, env = "LOCKER_UIDAI_AUA", value_delimiter = ',')]
    pub(crate) aua: Vec<String>,
    /// SMS gateway for the codes (http://...); without it they go to the log, masked.
    #[arg(long)]
    pub(crate) sms_gateway: Option<String>,
    /// Exit when standard input closes (for a parent that starts it).
    #[arg(long)]
    pub(crate) exit_with_stdin: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct VerifyBundleArgs {
    /// The bundle file (`GET /v1/citizen/certificates/{uri}/bundle`).
    pub(crate) file: PathBuf,
    /// The ledger's public key (hex), as published by the operator.
    #[arg(long)]
    pub(crate) ledger_key: Option<String>,
    /// Without --ledger-key: the data folder whose platform.key to trust.
    #[arg(long, env = "LOCKER_DATA", default_value = "locker-data")]
    pub(crate) data: PathBuf,
    /// The document's bytes, to check they are what the ledger holds.
    #[arg(long)]
    pub(crate) document: Option<PathBuf>,
    /// After the offline check, ask this service what became of the document since
    /// (revoked, updated): a bundle proves issuance, not current status.
    #[arg(long)]
    pub(crate) status_from: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct MonitorArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// The ledger's public key (hex), as published by the operator.
    #[arg(long)]
    pub(crate) ledger_key: String,
    /// Where the checkpoints seen last time are kept.
    #[arg(long, default_value = "locker-monitor.json")]
    pub(crate) state: PathBuf,
}

#[derive(clap::Args, Debug)]
pub(crate) struct AuditVerifyArgs {
    /// The data folder (the embedded log; stop `locker serve` first).
    #[arg(long, env = "LOCKER_DATA", default_value = "locker-data")]
    pub(crate) data: PathBuf,
    /// Read the log from Kafka instead.
    #[arg(long, env = "LOCKER_KAFKA")]
    pub(crate) kafka: Option<String>,
    #[arg(long, env = "LOCKER_TOPIC_PREFIX", default_value = "locker")]
    pub(crate) topic_prefix: String,
    /// The platform's public key (hex); by default from DATA/platform.key.
    #[arg(long)]
    pub(crate) ledger_key: Option<String>,
    /// Write the JSON report here.
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
    /// Resume after the roots of an earlier (passing) report: the records they cover are
    /// rehashed and compared with them, not re-verified.
    #[arg(long)]
    pub(crate) resume_from: Option<PathBuf>,
    /// Do not compare DATA/views with a rebuild from the log.
    #[arg(long)]
    pub(crate) no_views: bool,
}

#[derive(clap::Args, Debug)]
pub(crate) struct IssuerArgs {
    #[command(subcommand)]
    pub(crate) command: IssuerCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum IssuerCommand {
    /// Declare one of the issuer's doc types from a JSON file: {"fields": [{"key", "label",
    /// "kind", "required"}...], "pull": {"endpoint", "identifiers": [...]}} where kind is
    /// {"text": {"max_chars": N}}, {"integer": {"min": A, "max": B}}, {"choice": {"values":
    /// [...]}} or "date". Pushes, bulk rows and pull answers that break the fields are refused.
    Declare(DeclareArgs),
    /// Serve pulls of one doc type from a results file (CSV with a header row, as `locker issue
    /// bulk` reads it; a `status` column saying `withheld` answers try_later).
    Serve(Box<IssuerServeArgs>),
}

#[derive(clap::Args, Debug)]
pub(crate) struct DeclareArgs {
    #[arg(long, env = "LOCKER_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: String,
    /// The issuer's key file.
    #[arg(long)]
    pub(crate) key: PathBuf,
    #[arg(long)]
    pub(crate) issuer: String,
    #[arg(long)]
    pub(crate) doc_type: String,
    /// The declaration (JSON, as above).
    pub(crate) spec: PathBuf,
}

#[derive(clap::Args, Debug)]
pub(crate) struct IssuerServeArgs {
    /// The results file (CSV).
    #[arg(long)]
    pub(crate) records: PathBuf,
    /// The issuer's key file: answers are signed with it.
    #[arg(long)]
    pub(crate) key: PathBuf,
    #[arg(long)]
    pub(crate) issuer: String,
    #[command(flatten)]
    pub(crate) results: ResultsArgs,
    /// A column a citizen's identifier of the same key is matched against; repeatable, as the
    /// doc type's pull declares them.
    #[arg(long = "identifier", required = true)]
    pub(crate) identifiers: Vec<String>,
    /// exact, or tolerant (case, spacing, dots and initials aside; the family name in full:
    /// "A. Kumari" then matches every Kumari whose name starts with A).
    #[arg(long, default_value = "exact")]
    pub(crate) name_rule: String,
    /// The platform's public key (hex, `GET /v1/ledger/checkpoints` shows it as ledger_key):
    /// only requests it signed are served.
    #[arg(long)]
    pub(crate) platform_key: String,
    #[arg(long, default_value = "127.0.0.1:8095")]
    pub(crate) listen: SocketAddr,
    /// Exit when standard input closes (for a parent that starts it).
    #[arg(long)]
    pub(crate) exit_with_stdin: bool,
}
