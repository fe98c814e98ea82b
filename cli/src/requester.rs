//! `locker requester`: a bank or a telco asks for documents, reads them, follows consents.

use crate::args::*;
use crate::{from_json, parsed};

pub(crate) async fn run(args: RequesterArgs) -> anyhow::Result<()> {
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
        command @ RequesterCommand::Request { .. } => request(&client, command).await?,
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

/// `locker requester request`: with `--fetches`, on an Account Aggregator consent's terms.
async fn request(
    client: &client::requester::RequesterClient,
    command: RequesterCommand,
) -> anyhow::Result<()> {
    use schemas::*;
    let ok = |(status, answer): (u16, String)| -> anyhow::Result<String> {
        anyhow::ensure!((200..300).contains(&status), "HTTP {status}: {answer}");
        Ok(answer)
    };
    let RequesterCommand::Request {
        username,
        locker,
        docs,
        purpose,
        text,
        days,
        fetches,
        per,
        data_life_days,
        access_days,
    } = command
    else {
        anyhow::bail!("not a request");
    };
    let locker = match (username, locker) {
        (_, Some(locker)) => parsed("locker", LockerId::parse(&locker))?,
        (Some(username), None) => {
            let found: serde_json::Value = serde_json::from_str(&ok(client
                .lookup(&username)
                .await
                .map_err(anyhow::Error::msg)?)?)?;
            parsed("username", LockerId::parse(found["locker"].as_str().unwrap_or_default()))?
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
    let (answer, consent) = match fetches {
        None => client.request(locker, items, purpose, days).await,
        Some(reads) => {
            let frequency = FetchFrequency { reads, per: from_json("per", &per)? };
            let terms = client::requester::Terms {
                frequency,
                data_life_days,
                access_days,
                expires_in_days: days,
            };
            client.request_with_terms(locker, items, purpose, terms).await
        }
    }
    .map_err(anyhow::Error::msg)?;
    ok(answer)?;
    println!("consent {consent} requested from locker {locker}");
    Ok(())
}
