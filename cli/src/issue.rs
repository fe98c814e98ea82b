//! `locker issue` and `locker issue bulk`: an issuer signs documents and pushes them.

use crate::args::*;
use crate::{Exit, parsed};

pub(crate) async fn run(cli: IssueCli) -> anyhow::Result<()> {
    match (cli.command, cli.one) {
        (Some(IssueCommand::Bulk(args)), _) => bulk(*args).await,
        (None, Some(args)) => one(args).await,
        (None, None) => anyhow::bail!("say what to issue: see `locker issue --help`"),
    }
}

async fn bulk(args: BulkArgs) -> anyhow::Result<()> {
    if args.batch_rows == 0 || args.batch_rows > wire::limits::BULK_BATCH_ROWS_MAX {
        anyhow::bail!("--batch-rows: between 1 and {}", wire::limits::BULK_BATCH_ROWS_MAX);
    }
    let request = client::bulk::BulkRequest {
        server: args.server,
        key: ledger::keyfile::read(&args.key).map_err(anyhow::Error::msg)?,
        issuer: parsed("issuer", schemas::IssuerId::parse(&args.issuer))?,
        file: args.file,
        doc_type: parsed("doc-type", schemas::DocTypeCode::parse(&args.results.doc_type))?,
        name: parsed("name", schemas::Label::parse(&args.results.name))?,
        issued_on: parsed("issued-on", schemas::CivilDate::parse(&args.results.issued_on))?,
        valid_to: args
            .valid_to
            .as_deref()
            .map(|t| parsed("valid-to", schemas::CivilDate::parse(t)))
            .transpose()?,
        id_column: args.results.id_column,
        holder_column: args.results.holder_column,
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

async fn one(args: IssueArgs) -> anyhow::Result<()> {
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

/// `locker issuer declare` and `locker issuer serve`.
pub(crate) async fn issuer(args: IssuerArgs) -> anyhow::Result<()> {
    match args.command {
        IssuerCommand::Declare(args) => declare(args).await,
        IssuerCommand::Serve(args) => serve_pulls(*args).await,
    }
}

/// The declaration file: the event's fields but the issuer and doc type (given as flags).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    fields: Vec<schemas::FieldSpec>,
    pull: Option<schemas::PullSpec>,
}

async fn declare(args: DeclareArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.spec)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.spec.display()))?;
    let spec: Spec =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.spec.display()))?;
    let declared = schemas::DocTypeDeclared {
        issuer: parsed("issuer", schemas::IssuerId::parse(&args.issuer))?,
        doc_type: parsed("doc-type", schemas::DocTypeCode::parse(&args.doc_type))?,
        fields: spec.fields,
        pull: spec.pull,
    };
    declared.validate().map_err(|e| anyhow::anyhow!("{}: {e}", args.spec.display()))?;
    let key = ledger::keyfile::read(&args.key).map_err(anyhow::Error::msg)?;
    let (status, answer) = client::issue::declare(&args.server, &key, declared, crate::now())
        .await
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        (200..300).contains(&status),
        "the service refused the declaration (HTTP {status}): {answer}"
    );
    println!("{answer}");
    Ok(())
}

async fn serve_pulls(args: IssuerServeArgs) -> anyhow::Result<()> {
    let platform_key = schemas::PublicKeyBytes::from_hex(&args.platform_key)
        .ok()
        .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k.0).ok())
        .ok_or_else(|| anyhow::anyhow!("--platform-key: an Ed25519 public key in hex"))?;
    let config = server::http::pullbox::BoxConfig {
        records: args.records,
        issuer: parsed("issuer", schemas::IssuerId::parse(&args.issuer))?,
        key: ledger::keyfile::read(&args.key).map_err(anyhow::Error::msg)?,
        platform_key,
        doc_type: parsed("doc-type", schemas::DocTypeCode::parse(&args.results.doc_type))?,
        name: parsed("name", schemas::Label::parse(&args.results.name))?,
        issued_on: parsed("issued-on", schemas::CivilDate::parse(&args.results.issued_on))?,
        id_column: args.results.id_column,
        holder_column: args.results.holder_column,
        identifiers: args.identifiers,
        name_rule: args
            .name_rule
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--name-rule: {e}"))?,
        clock: std::sync::Arc::new(ledger::clock::SystemClock),
    };
    server::http::pullbox::run(config, args.listen, args.exit_with_stdin)
        .await
        .map_err(anyhow::Error::msg)
}
