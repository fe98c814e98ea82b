//! An issuer's pull endpoint in a box (`locker issuer serve`, issue 21): the reference
//! counterpart of a board's own system, in its own process on a real port. It serves pulls of
//! one doc type from a results file (CSV, as `locker issue bulk` reads it): the platform's
//! RFC 9421-signed request is checked against the platform's public key (configured, never
//! fetched), the record is found by the identifiers, its name compared by the issuer's rule,
//! and the answer is a `DocumentIssued` for the locker signed with the issuer's key, or a
//! coded refusal: `no_record` (404), `name_mismatch` (422), `try_later` (503, a row whose
//! `status` column says `withheld`). It keeps no state but a memory of signatures seen.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ed25519_dalek::{SigningKey, VerifyingKey};
use schemas::{CivilDate, DocId, DocTypeCode, DocumentField, IssuerId, Label, LockerId, Recipient};
use wire::dto::{ErrorDto, PullRequestDto};
use wire::rfc9421;

/// How a record's name must match the citizen's verified name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// The same characters.
    Exact,
    /// Case, spacing and dots aside, word by word; an initial matches a word it starts; the
    /// last word (the family name) in full.
    Tolerant,
}

impl std::str::FromStr for NameRule {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "exact" => Ok(NameRule::Exact),
            "tolerant" => Ok(NameRule::Tolerant),
            other => Err(format!("{other:?}: the name rule is exact or tolerant")),
        }
    }
}

/// What the box serves, and as whom.
pub struct BoxConfig {
    pub records: PathBuf,
    pub issuer: IssuerId,
    pub key: SigningKey,
    /// The platform's public key: only requests it signed are served.
    pub platform_key: VerifyingKey,
    pub doc_type: DocTypeCode,
    /// The documents' title, such as "Class XII Marksheet 2024".
    pub name: Label,
    pub issued_on: CivilDate,
    /// The column holding each document's id (a roll number).
    pub id_column: String,
    pub holder_column: String,
    /// The columns a citizen's identifiers are matched against, by the same keys.
    pub identifiers: Vec<String>,
    pub name_rule: NameRule,
    pub clock: Arc<dyn ledger::clock::Clock>,
}

impl std::fmt::Debug for BoxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxConfig")
            .field("records", &self.records)
            .field("issuer", &self.issuer)
            .field("doc_type", &self.doc_type)
            .finish_non_exhaustive()
    }
}

/// Columns that are never a document's fields.
const NOT_FIELDS: [&str; 4] = ["status", "locker", "aadhaar", "issuer"];
/// How old (or how far ahead) a request's signature may be.
const SIGNATURE_AGE_S_MAX: i64 = 60;
/// Signatures remembered against replay; the oldest go first past this.
const SEEN_MAX: usize = 100_000;

struct Record {
    doc_id: DocId,
    holder: String,
    fields: Vec<DocumentField>,
    withheld: bool,
}

struct Served {
    config: BoxConfig,
    /// By the identifiers' values, in `config.identifiers` order.
    records: HashMap<Vec<String>, Record>,
    seen: Mutex<HashMap<[u8; 64], i64>>,
}

/// Reads the records; the router that serves them at `POST /pull`.
pub fn router(config: BoxConfig) -> Result<axum::Router, String> {
    let records = read_records(&config)?;
    let served = Arc::new(Served { config, records, seen: Mutex::new(HashMap::new()) });
    Ok(axum::Router::new().route("/pull", axum::routing::post(pull)).with_state(served))
}

fn read_records(config: &BoxConfig) -> Result<HashMap<Vec<String>, Record>, String> {
    let path = config.records.display();
    let mut reader = csv::Reader::from_path(&config.records).map_err(|e| format!("{path}: {e}"))?;
    let header: Vec<String> =
        reader.headers().map_err(|e| format!("{path}: {e}"))?.iter().map(str::to_owned).collect();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| format!("{path}: no column {name:?}"))
    };
    let (id, holder) = (column(&config.id_column)?, column(&config.holder_column)?);
    let identifiers: Vec<usize> =
        config.identifiers.iter().map(|c| column(c)).collect::<Result<_, _>>()?;
    let status = header.iter().position(|h| h == "status");
    let fields: Vec<usize> = (0..header.len())
        .filter(|i| ![id, holder].contains(i) && !identifiers.contains(i))
        .filter(|i| !NOT_FIELDS.contains(&header[*i].as_str()))
        .collect();
    let mut records = HashMap::new();
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("{path}: {e}"))?;
        let at =
            |what: &str, e: schemas::SchemaError| format!("{path} row {}: {what}: {e}", line + 2);
        let cell = |i: usize| row.get(i).unwrap_or_default().trim();
        let record = Record {
            doc_id: DocId::parse(cell(id)).map_err(|e| at("id", e))?,
            holder: cell(holder).to_owned(),
            fields: fields
                .iter()
                .filter(|i| !cell(**i).is_empty())
                .map(|i| {
                    Ok(DocumentField {
                        key: schemas::FieldKey::parse(&header[*i]).map_err(|e| at("field", e))?,
                        value: schemas::FieldValue::parse(cell(*i)).map_err(|e| at("field", e))?,
                    })
                })
                .collect::<Result<_, String>>()?,
            withheld: status.is_some_and(|i| cell(i).eq_ignore_ascii_case("withheld")),
        };
        let key = identifiers.iter().map(|i| cell(*i).to_owned()).collect();
        records.insert(key, record);
    }
    Ok(records)
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorDto { code: code.to_owned(), message: message.to_owned() };
    (status, Json(body)).into_response()
}

async fn pull(State(served): State<Arc<Served>>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "a pull request is small JSON");
    };
    if let Err(why) = served.authenticate(&parts, &body) {
        return refuse(StatusCode::UNAUTHORIZED, "bad_signature", &why);
    }
    let Ok(request) = serde_json::from_slice::<PullRequestDto>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "not a pull request");
    };
    served.answer(&request)
}

impl Served {
    /// The platform's signature over method, authority, path and body, fresh and unseen.
    fn authenticate(&self, parts: &axum::http::request::Parts, body: &[u8]) -> Result<(), String> {
        let header = |name: &str| -> Option<String> {
            parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let input = header("signature-input").ok_or("the request is not signed")?;
        let input = rfc9421::parse_signature_input(&input).map_err(|e| e.0)?;
        let signature = header("signature").ok_or("the request is not signed")?;
        let signature = rfc9421::parse_signature(&signature, &input.label).map_err(|e| e.0)?;
        for required in ["@method", "@authority", "@path", "content-digest"] {
            if !input.components.iter().any(|c| c == required) {
                return Err(format!("the signature must cover {required}"));
            }
        }
        let digest = header("content-digest").ok_or("no Content-Digest")?;
        rfc9421::check_content_digest(&digest, body).map_err(|e| e.0)?;
        let now_s = self.config.clock.now().0.div_euclid(1000);
        let created = input.created.ok_or("the signature has no created time")?;
        if now_s.abs_diff(created) > SIGNATURE_AGE_S_MAX.unsigned_abs() {
            return Err("the signature is stale".to_owned());
        }
        let authority = header("host").unwrap_or_default();
        let message = rfc9421::Message {
            method: parts.method.as_str(),
            authority: &authority,
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or_default(),
            header: &header,
        };
        let base = rfc9421::signature_base(&message, &input).map_err(|e| e.0)?;
        let signed = ed25519_dalek::Signature::from_bytes(&signature);
        self.config
            .platform_key
            .verify_strict(base.as_bytes(), &signed)
            .map_err(|_| "the signature is not the platform's".to_owned())?;
        self.first_use(signature, now_s)
    }

    fn first_use(&self, signature: [u8; 64], now_s: i64) -> Result<(), String> {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, at| now_s.abs_diff(*at) <= SIGNATURE_AGE_S_MAX.unsigned_abs());
        if seen.len() >= SEEN_MAX {
            return Err("too many requests in the last minute".to_owned());
        }
        match seen.insert(signature, now_s) {
            Some(_) => Err("this signature was used already".to_owned()),
            None => Ok(()),
        }
    }

    fn answer(&self, request: &PullRequestDto) -> Response {
        if request.doc_type != self.config.doc_type.as_str() {
            return refuse(
                StatusCode::NOT_FOUND,
                "no_record",
                "this endpoint serves another doc type",
            );
        }
        let key: Vec<String> = self
            .config
            .identifiers
            .iter()
            .map(|k| request.identifiers.get(k).map_or("", |v| v.trim()).to_owned())
            .collect();
        let Some(record) = self.records.get(&key) else {
            return refuse(StatusCode::NOT_FOUND, "no_record", "no record has these identifiers");
        };
        // The name first: whether a result is withheld is the holder's to learn.
        if !names_match(self.config.name_rule, &record.holder, &request.name) {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "name_mismatch",
                "the record's name is not the one given",
            );
        }
        if record.withheld {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "try_later", "this result is withheld");
        }
        match self.document(record, &request.locker) {
            Ok(body) => (StatusCode::OK, Json(body)).into_response(),
            Err(why) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", &why),
        }
    }

    /// The signed issuance for the locker, with its fields and a JSON rendering as its bytes.
    fn document(&self, record: &Record, locker: &str) -> Result<serde_json::Value, String> {
        let locker = LockerId::parse(locker).map_err(|e| e.to_string())?;
        let holder = Label::parse(&record.holder).map_err(|e| e.to_string())?;
        let fields: serde_json::Map<String, serde_json::Value> =
            record.fields.iter().map(|f| (f.key.to_string(), f.value.as_str().into())).collect();
        let content = serde_json::json!({
            "issuer": self.config.issuer, "doc_type": self.config.doc_type,
            "doc_id": record.doc_id, "title": self.config.name, "holder": record.holder,
            "issued_on": self.config.issued_on, "fields": fields,
        });
        let request = client::issue::IssueRequest {
            server: String::new(),
            key: self.config.key.clone(),
            issuer: self.config.issuer.clone(),
            to: client::issue::To::Locker(locker),
            doc_type: self.config.doc_type.clone(),
            doc_id: record.doc_id.clone(),
            name: self.config.name.clone(),
            issued_on: self.config.issued_on,
            valid_from: None,
            valid_to: None,
            holder,
            fields: record.fields.clone(),
            content: serde_json::to_vec_pretty(&content).map_err(|e| e.to_string())?,
            hash_only: false,
            now: self.config.clock.now(),
        };
        client::issue::push_body(request, Recipient::Locker(locker)).map_err(|e| e.to_string())
    }
}

/// Whether `record` (the issuer's) and `given` (the citizen's verified name) are one name.
pub fn names_match(rule: NameRule, record: &str, given: &str) -> bool {
    match rule {
        NameRule::Exact => record == given,
        NameRule::Tolerant => {
            let words = |name: &str| -> Vec<String> {
                name.to_lowercase()
                    .replace('.', " ")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            };
            let (record, given) = (words(record), words(given));
            let same_word = |a: &String, b: &String| {
                a == b
                    || (a.chars().count() == 1 && b.starts_with(a.as_str()))
                    || (b.chars().count() == 1 && a.starts_with(b.as_str()))
            };
            !record.is_empty()
                && record.len() == given.len()
                && record.last() == given.last()
                && record.iter().zip(&given).all(|(a, b)| same_word(a, b))
        }
    }
}

/// Serves the box until standard input closes (`exit_with_stdin`) or forever.
pub async fn run(
    config: BoxConfig,
    listen: std::net::SocketAddr,
    exit_with_stdin: bool,
) -> Result<(), String> {
    let issuer = config.issuer.clone();
    let router = router(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("issuer serve: {issuer} answers pulls at http://{address}/pull");
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    // Without --exit-with-stdin the sender is kept for good: nothing stops the box but a signal.
    let kept = if exit_with_stdin {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            let _ = stop.send(true);
        });
        None
    } else {
        Some(stop)
    };
    let stop = async move {
        let _kept = kept;
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    axum::serve(listener, router).with_graceful_shutdown(stop).await.map_err(|e| e.to_string())
}

/// The demo exam board's Class X results of 2022: the demo citizen's (in her locker already),
/// a classmate's (her name does not match it), and her supplementary examination's, withheld
/// (try later).
pub const DEMO_RESULTS: &str = "roll_no,year,name,Mathematics,Science,English,status
2022-1234567,2022,ASHA KUMARI,95,91,88,
2022-2345678,2022,Ravi Kumar,78,82,80,
2022-3456789,2022,Asha Kumari,,,,withheld
";

/// A box started beside the service; ended when dropped (and by itself when the service's
/// process is gone: its standard input closes).
#[derive(Debug)]
pub struct Started {
    child: std::process::Child,
    /// Where it answers pulls (`http://127.0.0.1:PORT/pull`).
    pub url: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `locker issuer serve` for the demo exam board (`in.gov.cbse`, Class X, by roll
/// number and year) from `data/pullbox/results.csv`, signing with the board's demo key. It
/// listens where it did last time (`data/pullbox/listen`), so a restart declares nothing new;
/// on a free port when that one is taken.
pub fn start_demo_box(
    data: &std::path::Path,
    platform_key: &VerifyingKey,
) -> Result<Started, String> {
    let dir = data.join("pullbox");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let records = dir.join("results.csv");
    if !records.exists() {
        std::fs::write(&records, DEMO_RESULTS)
            .map_err(|e| format!("{}: {e}", records.display()))?;
    }
    let remembered = dir.join("listen");
    let last = std::fs::read_to_string(&remembered).ok().map(|a| a.trim().to_owned());
    let started = match last.as_deref().map(|address| spawn_demo_box(data, address, platform_key)) {
        Some(Ok(started)) => started,
        _ => spawn_demo_box(data, "127.0.0.1:0", platform_key)?,
    };
    let address = started.url.trim_start_matches("http://").trim_end_matches("/pull");
    std::fs::write(&remembered, address).map_err(|e| format!("{}: {e}", remembered.display()))?;
    Ok(started)
}

fn spawn_demo_box(
    data: &std::path::Path,
    listen: &str,
    platform_key: &VerifyingKey,
) -> Result<Started, String> {
    use std::io::BufRead;
    let exe = std::env::current_exe().map_err(|e| format!("the locker binary: {e}"))?;
    if exe.file_name().and_then(|n| n.to_str()) != Some("locker") {
        return Err(format!("{} is not the locker binary", exe.display()));
    }
    let mut child = std::process::Command::new(exe)
        .args(["issuer", "serve", "--listen", listen, "--exit-with-stdin"])
        .args(["--issuer", "in.gov.cbse", "--doc-type", "SSCER"])
        .args(["--name", "Class X Marksheet 2022", "--issued-on", "2022-07-22"])
        .args(["--identifier", "roll_no", "--identifier", "year", "--name-rule", "tolerant"])
        .args(["--platform-key", &schemas::to_hex(platform_key.as_bytes())])
        .arg("--records")
        .arg(data.join("pullbox").join("results.csv"))
        .arg("--key")
        .arg(data.join("demo-keys").join("in.gov.cbse.key"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the exam board's pull endpoint: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let line = std::io::BufReader::new(stdout).lines().next();
    let url = match line {
        Some(Ok(line)) => line.split_once(" answers pulls at ").map(|(_, url)| url.to_owned()),
        _ => None,
    };
    match url {
        Some(url) => Ok(Started { child, url }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("the exam board's pull endpoint did not start on {listen}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_the_issuers_rule() {
        use NameRule::*;
        assert!(names_match(Exact, "Asha Kumari", "Asha Kumari"));
        assert!(!names_match(Exact, "Asha Kumari", "asha kumari"));
        assert!(names_match(Tolerant, "ASHA  KUMARI", "Asha Kumari"));
        assert!(names_match(Tolerant, "A. Kumari", "Asha Kumari"));
        assert!(names_match(Tolerant, "Asha Kumari", "A Kumari"));
        assert!(!names_match(Tolerant, "Asha K.", "Asha Kumari"), "the family name in full");
        assert!(!names_match(Tolerant, "Ravi Kumar", "Asha Kumari"));
        assert!(!names_match(Tolerant, "Asha Rani Kumari", "Asha Kumari"));
        assert!(!names_match(Tolerant, "", ""));
    }
}
