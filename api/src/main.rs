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
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign a document as an issuer and push it to a locker.
    Issue(Box<IssueArgs>),
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
    /// The recipient's locker id.
    #[arg(long)]
    locker: String,
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
    let request = api::issue::IssueRequest {
        server: args.server,
        key: api::keyfile::read(&args.key).map_err(anyhow::Error::msg)?,
        issuer: parsed("issuer", schemas::IssuerId::parse(&args.issuer))?,
        locker: parsed("locker", schemas::LockerId::parse(&args.locker))?,
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
    let (status, answer) = api::issue::issue(request).await.map_err(anyhow::Error::msg)?;
    println!("{answer}");
    anyhow::ensure!(
        (200..300).contains(&status),
        "the service refused the document (HTTP {status})"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal; a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Keys { command: KeysCommand::Generate { out } } => {
            let mut bytes = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
            let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
            api::keyfile::write_new(&out, &key).map_err(anyhow::Error::msg)?;
            let public: String =
                key.verifying_key().to_bytes().iter().map(|b| format!("{b:02x}")).collect();
            println!("secret key: {} (keep it safe)", out.display());
            println!("public key: {public}");
            println!("key id:     {}", ledger::crypto::key_id_of(&key.verifying_key()));
            Ok(())
        }
        Command::Issue(args) => issue(*args).await,
        Command::Serve { data, listen, kafka, demo, otp_gateway } => {
            let config = api::server::ServeConfig { data, listen, kafka, demo, otp_gateway };
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            api::server::serve(config, shutdown).await
        }
    }
}
