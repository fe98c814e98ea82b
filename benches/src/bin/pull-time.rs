//! Pulls on the real service over loopback (issue 21): the demo citizen pulls PULLS Class XII
//! marksheets, one at a time, from the reference pull endpoint (`server::pullbox`, the code
//! `locker issuer serve` runs) serving a results file; each pull is the signed request to
//! the board, its signed answer checked, sealed and logged, and the pull itself logged.
//! Beside it, the baseline from the same run: the board's endpoint alone, asked the same
//! signed requests directly. Latencies are wall-clock per request: p50, p99 and the mean.
//!
//! Usage: pull-time [PULLS]   (default 500)

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

fn main() -> anyhow::Result<()> {
    let pulls: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(500);
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // Every pull of this run is one locker's: the hourly limit would stop it at 20.
    let server = locker_benches::DemoServer::start_edited(&data, |c| c.pulls_per_hour = 1_000_000)?;
    let records = dir.path().join("results.csv");
    let mut csv = String::from("roll_no,year,name,Physics,Chemistry,Mathematics\n");
    for i in 0..pulls * 2 + 20 {
        csv.push_str(&format!("2024-{i:07},2024,Asha Kumari,80,81,82\n"));
    }
    std::fs::write(&records, csv)?;
    let clients = locker_benches::client_runtime()?;
    clients.block_on(async {
        server.ready().await?;
        let board_key = ledger::keyfile::read(&data.join("demo-keys/in.gov.cbse.key"))?;
        let platform = ledger::keyfile::read(&data.join("platform.key"))?;
        let endpoint = start_board(&records, board_key.clone(), &platform).await?;
        declare(&server.base, &board_key, &endpoint).await?;
        let asha = server.demo_session().await?;
        for i in 0..10 {
            pull(&asha, pulls * 2 + 10 + i).await?;
        }
        let mut through = Vec::with_capacity(pulls);
        for i in 0..pulls {
            let started = Instant::now();
            pull(&asha, i).await?;
            through.push(started.elapsed());
        }
        let mut direct = Vec::with_capacity(pulls);
        for i in 0..pulls {
            let started = Instant::now();
            ask_board(&endpoint, &platform, asha.locker(), pulls + i).await?;
            direct.push(started.elapsed());
        }
        let (p50, p99, mean) = summary(&mut through);
        let (b50, b99, bmean) = summary(&mut direct);
        println!(
            "pull-time: {pulls} pulls through the service: p50 {p50:.2} ms, p99 {p99:.2} ms, mean {mean:.2} ms"
        );
        println!(
            "pull-time: the board's endpoint alone, same requests: p50 {b50:.2} ms, p99 {b99:.2} ms, mean {bmean:.2} ms"
        );
        println!("pull-time: a pull costs {:.1}x the board's own answer (p50)", p50 / b50.max(1e-9));
        anyhow::Ok(())
    })?;
    server.stop()
}

/// The reference endpoint on this process's runtime, on a free port.
async fn start_board(
    records: &std::path::Path,
    key: SigningKey,
    platform: &SigningKey,
) -> anyhow::Result<String> {
    let config = server::http::pullbox::BoxConfig {
        records: records.to_path_buf(),
        issuer: schemas::IssuerId::parse("in.gov.cbse")?,
        key,
        platform_key: platform.verifying_key(),
        doc_type: schemas::DocTypeCode::parse("HSCER")?,
        name: schemas::Label::parse("Class XII Marksheet 2024")?,
        issued_on: schemas::CivilDate::parse("2024-05-13")?,
        id_column: "roll_no".to_owned(),
        holder_column: "name".to_owned(),
        identifiers: vec!["roll_no".to_owned(), "year".to_owned()],
        name_rule: server::http::pullbox::NameRule::Tolerant,
        clock: std::sync::Arc::new(ledger::clock::SystemClock),
    };
    let router = server::http::pullbox::router(config).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum_serve(listener, router).await });
    Ok(format!("http://{address}/pull"))
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    if let Err(e) = axum::serve(listener, router).await {
        eprintln!("pull-time: the board's endpoint stopped: {e}");
    }
}

async fn declare(server: &str, key: &SigningKey, endpoint: &str) -> anyhow::Result<()> {
    let marks = |key: &str| -> anyhow::Result<schemas::FieldSpec> {
        Ok(schemas::FieldSpec {
            key: schemas::FieldKey::parse(key)?,
            label: schemas::Label::parse(key)?,
            kind: schemas::FieldKind::Integer { min: 0, max: 100 },
            required: true,
        })
    };
    let declared = schemas::DocTypeDeclared {
        issuer: schemas::IssuerId::parse("in.gov.cbse")?,
        doc_type: schemas::DocTypeCode::parse("HSCER")?,
        fields: vec![marks("Physics")?, marks("Chemistry")?, marks("Mathematics")?],
        pull: Some(schemas::PullSpec {
            endpoint: schemas::Endpoint::parse(endpoint)?,
            identifiers: vec![
                schemas::FieldSpec {
                    key: schemas::FieldKey::parse("roll_no")?,
                    label: schemas::Label::parse("Roll number")?,
                    kind: schemas::FieldKind::Text { max_chars: 20 },
                    required: true,
                },
                schemas::FieldSpec {
                    key: schemas::FieldKey::parse("year")?,
                    label: schemas::Label::parse("Year")?,
                    kind: schemas::FieldKind::Integer { min: 2000, max: 2030 },
                    required: true,
                },
            ],
        }),
    };
    let now = ledger::clock::Clock::now(&ledger::clock::SystemClock);
    let (status, answer) = client::issue::declare(server, key, declared, now).await?;
    anyhow::ensure!((200..300).contains(&status), "the declaration: {status} {answer}");
    Ok(())
}

async fn pull(asha: &client::citizen::Citizen, i: usize) -> anyhow::Result<()> {
    let roll = format!("2024-{i:07}");
    let answer = asha.pull("in.gov.cbse", "HSCER", &[("roll_no", &roll), ("year", "2024")]).await?;
    anyhow::ensure!(answer["status"] == "issued", "pull {roll}: {answer}");
    Ok(())
}

/// The same request the service sends, signed by the platform, straight to the board.
async fn ask_board(
    endpoint: &str,
    platform: &SigningKey,
    locker: &str,
    i: usize,
) -> anyhow::Result<()> {
    let url = client::http::JsonClient::parse_url(endpoint)?;
    let request = wire::dto::PullRequestDto {
        request_id: format!("{i:032}"),
        locker: locker.to_owned(),
        doc_type: "HSCER".to_owned(),
        identifiers: [("roll_no", format!("2024-{i:07}")), ("year", "2024".to_owned())]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        name: "Asha Kumari".to_owned(),
        name_source: "profile".to_owned(),
    };
    let body = serde_json::to_vec(&request)?;
    let keyid = format!("platform:{}", ledger::crypto::key_id_of(&platform.verifying_key()));
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let target = wire::rfc9421::Target { method: "POST", authority, path: url.path(), query: "" };
    let now_s = ledger::clock::Clock::now(&ledger::clock::SystemClock).0.div_euclid(1000);
    let headers =
        wire::rfc9421::sign_request(platform, &keyid, now_s, target, &body).into_headers();
    let http = client::http::JsonClient::new(Duration::from_secs(10));
    let (status, answer) = http.send("POST", &url, &headers, body).await?;
    anyhow::ensure!(status == 200, "the board: {status} {answer}");
    Ok(())
}

/// p50, p99 and the mean, in milliseconds.
fn summary(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort_unstable();
    // The sample at or above `permille` of them (nearest rank).
    let at = |permille: usize| {
        let index = (samples.len() * permille).div_ceil(1000).saturating_sub(1);
        samples[index.min(samples.len() - 1)].as_secs_f64() * 1e3
    };
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
    (at(500), at(990), mean * 1e3)
}
