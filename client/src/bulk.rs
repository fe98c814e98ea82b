//! `locker issue bulk`: an exam board's results file (CSV with a header row, or NDJSON of
//! objects) turned into signed `document_issued` events and streamed to the service in
//! batches (`POST /v1/issuer/batches`).
//!
//! - Memory is bounded: rows are read as they are sent, at most `in_flight` batches are on
//!   the wire, and the reader waits when they are (a bounded channel).
//! - A re-run of the same file is idempotent: the event id comes from the document's URI
//!   (issuer, doc type, doc id) and the commitment's salt from the issuer's key and the URI,
//!   so the service answers `already_present` for what it has.
//! - A batch that fails in transit, or that the service could not write (503), is sent
//!   again, up to `limits::BULK_SEND_ATTEMPTS` times: a retry cannot create a duplicate.
//! - Each row ends accepted, already present, or rejected with its file line and reason:
//!   rows the tool itself refuses (malformed, truncated, duplicate doc id, invalid Aadhaar,
//!   another issuer's) and rows the service refuses alike.
//!
//! Bulk rows register a document by hash: the document is the row's canonical JSON
//! (`{"uri", "name", "holder", "fields"}`, keys sorted), which the issuer can regenerate.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger::crypto::{commitment, key_id_of, sign_event};
use rayon::prelude::*;
use schemas::*;

use crate::ClientError;
use crate::http::JsonClient;
use crate::limits::{BULK_RETRY_WAIT_FIRST_MS, BULK_SEND_ATTEMPTS};
pub use wire::rows::Format;

/// What `locker issue bulk` was asked to do.
pub struct BulkRequest {
    pub server: String,
    pub key: SigningKey,
    pub issuer: IssuerId,
    pub file: PathBuf,
    pub doc_type: DocTypeCode,
    /// The document's title, such as "Class XII Marksheet 2024".
    pub name: Label,
    pub issued_on: CivilDate,
    pub valid_to: Option<CivilDate>,
    /// Columns: the doc id (roll number), the holder's name, and the recipient (locker id or
    /// Aadhaar number: exactly one of them per row).
    pub id_column: String,
    pub holder_column: String,
    pub locker_column: Option<String>,
    pub aadhaar_column: Option<String>,
    /// A column naming the issuer, checked against `issuer` when the file has it.
    pub issuer_column: Option<String>,
    /// The structured fields (subject marks); empty means every other column.
    pub field_columns: Vec<String>,
    pub batch_rows: usize,
    pub in_flight: usize,
    /// Sign each batch with one signature over its Merkle root (batch-signed issuance).
    pub batch_sign: bool,
    pub clock: Arc<dyn ledger::clock::Clock>,
}

impl BulkRequest {
    /// A request for the demo board's Class XII results (`roll_no,name,locker,aadhaar,issuer`
    /// and every other column a field), to a server that is not there: for checking files
    /// offline, in tests and fuzz targets.
    pub fn example() -> BulkRequest {
        // Constants that parse; checked by the tests that use this.
        BulkRequest {
            server: "http://127.0.0.1:1".to_owned(),
            key: SigningKey::from_bytes(&[7; 32]),
            issuer: IssuerId::parse("in.gov.cbse").expect("the example's issuer is valid"),
            file: "results.csv".into(),
            doc_type: DocTypeCode::parse("HSCER").expect("the example's doc type is valid"),
            name: Label::parse("Class XII Marksheet").expect("the example's title is valid"),
            issued_on: CivilDate::parse("2024-05-13").expect("the example's date is valid"),
            valid_to: None,
            id_column: "roll_no".to_owned(),
            holder_column: "name".to_owned(),
            locker_column: Some("locker".to_owned()),
            aadhaar_column: Some("aadhaar".to_owned()),
            issuer_column: Some("issuer".to_owned()),
            field_columns: Vec::new(),
            batch_rows: 1000,
            in_flight: 1,
            batch_sign: false,
            clock: Arc::new(ledger::clock::SystemClock),
        }
    }
}

impl std::fmt::Debug for BulkRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkRequest").field("file", &self.file).finish_non_exhaustive()
    }
}

/// A row's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    AlreadyPresent,
    Rejected { code: String, message: String },
}

/// The final report: every row by its line in the file.
#[derive(Debug, Default)]
pub struct BulkSummary {
    pub rows: u64,
    pub accepted: u64,
    pub already_present: u64,
    /// (line, doc id, code, message), in file order.
    pub rejected: Vec<(u64, String, String, String)>,
}

impl BulkSummary {
    fn add(&mut self, line: u64, doc_id: &str, outcome: Outcome) {
        self.rows += 1;
        match outcome {
            Outcome::Accepted => self.accepted += 1,
            Outcome::AlreadyPresent => self.already_present += 1,
            Outcome::Rejected { code, message } => {
                self.rejected.push((line, doc_id.to_owned(), code, message));
            }
        }
    }

    /// The rejected rows as CSV: `line,doc_id,code,message`.
    pub fn rejected_csv(&self) -> Result<Vec<u8>, ClientError> {
        let failed = |e: &dyn std::fmt::Display| ClientError::Input(format!("the report: {e}"));
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(["line", "doc_id", "code", "message"]).map_err(|e| failed(&e))?;
        let mut sorted = self.rejected.clone();
        sorted.sort();
        for (line, doc_id, code, message) in &sorted {
            writer
                .write_record([line.to_string().as_str(), doc_id, code, message])
                .map_err(|e| failed(&e))?;
        }
        writer.into_inner().map_err(|e| failed(&e))
    }
}

/// One row read from the file: its line and its columns.
struct RawRow {
    line: u64,
    columns: BTreeMap<String, String>,
}

/// A row ready to sign, or the reason it cannot be.
struct Prepared {
    line: u64,
    doc_id: String,
    body: Result<RowBody, Outcome>,
}

struct RowBody {
    doc_id: DocId,
    to: To,
    holder: Label,
    fields: Vec<DocumentField>,
}

enum To {
    Locker(LockerId),
    Aadhaar(Aadhaar),
}

fn rejected(code: &str, message: impl Into<String>) -> Outcome {
    Outcome::Rejected { code: code.to_owned(), message: message.into() }
}

/// Reads the file row by row, sending them down `rows` in chunks (blocking: run it on a
/// blocking thread). Malformed rows are sent as rejections.
fn read_rows(
    file: &std::path::Path,
    batch_rows: usize,
    rows: &tokio::sync::mpsc::Sender<Vec<Result<RawRow, (u64, Outcome)>>>,
) -> Result<(), ClientError> {
    let unreadable =
        |e: &dyn std::fmt::Display| ClientError::Input(format!("{}: {e}", file.display()));
    let ndjson = file.extension().is_some_and(|e| e == "ndjson" || e == "jsonl");
    let opened = std::fs::File::open(file).map_err(|e| unreadable(&e))?;
    let mut chunk = Vec::with_capacity(batch_rows);
    let send = |chunk: &mut Vec<Result<RawRow, (u64, Outcome)>>| -> Result<(), ClientError> {
        if chunk.is_empty() {
            return Ok(());
        }
        rows.blocking_send(std::mem::take(chunk))
            .map_err(|_| ClientError::Input("the sender stopped".to_owned()))
    };
    if ndjson {
        use std::io::BufRead;
        for (index, line) in std::io::BufReader::new(opened).lines().enumerate() {
            let number = index as u64 + 1;
            let line = line.map_err(|e| unreadable(&e))?;
            if line.trim().is_empty() {
                continue;
            }
            chunk.push(
                match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line) {
                    Ok(object) => Ok(RawRow {
                        line: number,
                        columns: object
                            .into_iter()
                            .map(|(k, v)| match v {
                                serde_json::Value::String(s) => (k, s),
                                other => (k, other.to_string()),
                            })
                            .collect(),
                    }),
                    Err(e) => {
                        Err((number, rejected("malformed_row", format!("not a JSON object: {e}"))))
                    }
                },
            );
            if chunk.len() == batch_rows {
                send(&mut chunk)?;
            }
        }
    } else {
        csv_rows(opened, &file.display().to_string(), |row| {
            chunk.push(row);
            if chunk.len() == batch_rows {
                send(&mut chunk)?;
            }
            Ok(())
        })?;
    }
    send(&mut chunk)
}

/// Each record of a CSV file with a header row, as a row or (malformed) its rejection.
fn csv_rows(
    source: impl std::io::Read,
    name: &str,
    mut each: impl FnMut(Result<RawRow, (u64, Outcome)>) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(source);
    let headers = reader
        .headers()
        .map_err(|e| ClientError::Input(format!("{name}: header row: {e}")))?
        .clone();
    for record in reader.records() {
        each(match record {
            Ok(record) => Ok(RawRow {
                line: record.position().map_or(0, csv::Position::line),
                columns: headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect(),
            }),
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                Err((line, rejected("malformed_row", e.to_string())))
            }
        })?;
    }
    Ok(())
}

fn code_of(outcome: Outcome) -> String {
    match outcome {
        Outcome::Rejected { code, .. } => code,
        Outcome::Accepted => "accepted".to_owned(),
        Outcome::AlreadyPresent => "already_present".to_owned(),
    }
}

/// A record's line, its doc id, and `Ok` or the code of its refusal.
pub type CheckedRow = (u64, String, Result<(), String>);

/// What each record of a CSV results file would become, read and checked as `run` does but
/// neither signed nor sent: `(line, doc id, Ok or the refusal's code)`. For the fuzz target
/// of the CSV row parser (any bytes: an answer per record, never a panic).
pub fn check_csv(request: &BulkRequest, bytes: &[u8]) -> Result<Vec<CheckedRow>, ClientError> {
    let mut seen = HashMap::new();
    let mut checked = Vec::new();
    csv_rows(bytes, "the file", |row| {
        checked.push(match row {
            Ok(row) => {
                let prepared = prepare(request, row, &mut seen);
                (prepared.line, prepared.doc_id, prepared.body.map(|_| ()).map_err(code_of))
            }
            Err((line, outcome)) => (line, String::new(), Err(code_of(outcome))),
        });
        Ok(())
    })?;
    Ok(checked)
}

/// Checks a row alone (columns, identifiers, duplicates in the file).
fn prepare(request: &BulkRequest, row: RawRow, seen: &mut HashMap<String, u64>) -> Prepared {
    let line = row.line;
    let get = |name: &str| row.columns.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let doc_id_text = get(&request.id_column).unwrap_or_default().to_owned();
    let body = (|| {
        let doc_id = DocId::parse(&doc_id_text).map_err(|e| {
            rejected("invalid_doc_id", format!("column {}: {e}", request.id_column))
        })?;
        if let Some(column) = &request.issuer_column
            && let Some(issuer) = get(column)
            && issuer != request.issuer.as_str()
        {
            return Err(rejected(
                "other_issuer",
                format!("the row is for issuer {issuer}, not {}", request.issuer),
            ));
        }
        if let Some(first) = seen.get(&doc_id_text) {
            return Err(rejected(
                "duplicate_row",
                format!("doc id {doc_id_text} is already on line {first}"),
            ));
        }
        let locker = request.locker_column.as_deref().and_then(get);
        let aadhaar = request.aadhaar_column.as_deref().and_then(get);
        let to = match (locker, aadhaar) {
            (Some(locker), _) => To::Locker(
                LockerId::parse(locker).map_err(|e| rejected("invalid_locker", e.to_string()))?,
            ),
            (None, Some(aadhaar)) => To::Aadhaar(
                Aadhaar::parse(aadhaar).map_err(|e| rejected("invalid_aadhaar", e.to_string()))?,
            ),
            (None, None) => {
                return Err(rejected(
                    "no_recipient",
                    "the row names neither a locker nor an Aadhaar",
                ));
            }
        };
        let holder =
            Label::parse(get(&request.holder_column).unwrap_or_default()).map_err(|e| {
                rejected("invalid_holder", format!("column {}: {e}", request.holder_column))
            })?;
        let recipient_columns = [
            Some(&request.id_column),
            Some(&request.holder_column),
            request.locker_column.as_ref(),
            request.aadhaar_column.as_ref(),
            request.issuer_column.as_ref(),
        ];
        let mut fields = Vec::new();
        for (column, value) in &row.columns {
            let wanted = if request.field_columns.is_empty() {
                !recipient_columns.contains(&Some(column))
            } else {
                request.field_columns.contains(column)
            };
            if !wanted || value.is_empty() {
                continue;
            }
            fields.push(DocumentField {
                key: FieldKey::parse(column)
                    .map_err(|e| rejected("invalid_field", format!("column {column}: {e}")))?,
                value: FieldValue::parse(value)
                    .map_err(|e| rejected("invalid_field", format!("column {column}: {e}")))?,
            });
        }
        seen.insert(doc_id_text.clone(), line);
        Ok(RowBody { doc_id, to, holder, fields })
    })();
    Prepared { line, doc_id: doc_id_text, body }
}

/// Signs bulk rows for one issuer and doc type (also what load generators use).
#[derive(Debug)]
pub struct RowSigner<'a> {
    pub key: &'a SigningKey,
    pub issuer: &'a IssuerId,
    pub doc_type: &'a DocTypeCode,
    pub name: &'a Label,
    pub issued_on: CivilDate,
    pub valid_to: Option<CivilDate>,
}

impl RowSigner<'_> {
    /// The event of one document, and the salt and fields it commits to. The salt comes from
    /// the issuer's key and the URI, so the same row gives the same payload on every run.
    fn event(
        &self,
        doc_id: &DocId,
        holder: &Label,
        fields: &[DocumentField],
        recipient: Recipient,
        now: TimestampMs,
    ) -> Result<(Event, [u8; 32], PersonalData), String> {
        let uri = DocUri::new(self.issuer.clone(), self.doc_type.clone(), doc_id.clone());
        let secret = self.key.to_bytes();
        let salt = *blake3::keyed_hash(&secret, format!("salt:{uri}").as_bytes()).as_bytes();
        let data = PersonalData::Document(DocumentPersonal {
            holder_name: holder.clone(),
            date_of_birth: None,
            fields: fields.to_vec(),
        });
        let committed = commitment(&salt, &encode_personal(&data).map_err(|e| e.to_string())?);
        let document = document_json(&uri, self.name, holder, fields);
        let event = Event {
            id: ledger::crypto::issue_event_id(&uri),
            occurred_at_ms: now,
            actor: Actor::Issuer(self.issuer.clone()),
            key_id: key_id_of(&self.key.verifying_key()),
            payload: Payload::DocumentIssued(DocumentIssued {
                uri,
                recipient,
                name: self.name.clone(),
                issued_on: self.issued_on,
                valid_from: None,
                valid_to: self.valid_to,
                content: ContentRef {
                    hash: Digest32(*blake3::hash(&document).as_bytes()),
                    media_type: MediaType::Json,
                    size_bytes: document.len() as u64,
                },
                personal: Some(committed),
            }),
        };
        Ok((event, salt, data))
    }

    fn line(envelope: &Envelope, salt: &[u8; 32], data: &PersonalData) -> String {
        let salt_hex: String = schemas::to_hex(salt);
        serde_json::json!({ "envelope": envelope, "personal": { "salt": salt_hex, "data": data } })
            .to_string()
    }

    fn row(
        format: Format,
        envelope: &Envelope,
        salt: &[u8; 32],
        data: &PersonalData,
    ) -> Result<Vec<u8>, String> {
        match format {
            Format::Ndjson => Ok(Self::line(envelope, salt, data).into_bytes()),
            Format::Binary => {
                wire::rows::encode_row(envelope, Some((salt, data))).map_err(|e| e.to_string())
            }
        }
    }

    /// The signed push body of one document, as one NDJSON line.
    pub fn sign(
        &self,
        doc_id: &DocId,
        holder: &Label,
        fields: &[DocumentField],
        recipient: Recipient,
        now: TimestampMs,
    ) -> Result<String, String> {
        let (event, salt, data) = self.event(doc_id, holder, fields, recipient, now)?;
        let envelope = sign_event(event, self.key, None).map_err(|e| e.to_string())?;
        Ok(Self::line(&envelope, &salt, &data))
    }

    /// `sign`, as a row of `format` (`wire::rows`).
    pub fn sign_as(
        &self,
        format: Format,
        doc_id: &DocId,
        holder: &Label,
        fields: &[DocumentField],
        recipient: Recipient,
        now: TimestampMs,
    ) -> Result<Vec<u8>, String> {
        let (event, salt, data) = self.event(doc_id, holder, fields, recipient, now)?;
        let envelope = sign_event(event, self.key, None).map_err(|e| e.to_string())?;
        Self::row(format, &envelope, &salt, &data)
    }

    /// Many documents signed with one signature over their Merkle root (batch-signed
    /// issuance): each line carries its place in the batch, and each stays verifiable alone.
    pub fn sign_batch(
        &self,
        rows: Vec<(DocId, Label, Vec<DocumentField>, Recipient)>,
        now: TimestampMs,
    ) -> Result<Vec<String>, String> {
        self.sign_batch_as(Format::Ndjson, rows, now)?
            .into_iter()
            .map(|line| String::from_utf8(line).map_err(|e| e.to_string()))
            .collect()
    }

    /// `sign_batch`, as rows of `format`.
    pub fn sign_batch_as(
        &self,
        format: Format,
        rows: Vec<(DocId, Label, Vec<DocumentField>, Recipient)>,
        now: TimestampMs,
    ) -> Result<Vec<Vec<u8>>, String> {
        let mut events = Vec::with_capacity(rows.len());
        let mut personal = Vec::with_capacity(rows.len());
        for (doc_id, holder, fields, recipient) in rows {
            let (event, salt, data) = self.event(&doc_id, &holder, &fields, recipient, now)?;
            events.push((event, None));
            personal.push((salt, data));
        }
        let envelopes = ledger::crypto::sign_batch(events, self.key).map_err(|e| e.to_string())?;
        envelopes
            .iter()
            .zip(&personal)
            .map(|(envelope, (salt, data))| Self::row(format, envelope, salt, data))
            .collect()
    }
}

/// The rows of one batch signed with one signature over their Merkle root.
fn sign_chunk_as_one(
    request: &BulkRequest,
    rows: Vec<(u64, String, RowBody, Recipient)>,
    now: TimestampMs,
) -> Vec<(u64, String, Result<Vec<u8>, String>)> {
    let signer = RowSigner {
        key: &request.key,
        issuer: &request.issuer,
        doc_type: &request.doc_type,
        name: &request.name,
        issued_on: request.issued_on,
        valid_to: request.valid_to,
    };
    let mut places = Vec::with_capacity(rows.len());
    let mut documents = Vec::with_capacity(rows.len());
    for (line, doc_id, body, recipient) in rows {
        places.push((line, doc_id));
        documents.push((body.doc_id, body.holder, body.fields, recipient));
    }
    match signer.sign_batch_as(SENT_AS, documents, now) {
        Ok(lines) => places.into_iter().zip(lines).map(|((l, d), row)| (l, d, Ok(row))).collect(),
        Err(e) => places.into_iter().map(|(l, d)| (l, d, Err(e.clone()))).collect(),
    }
}

fn sign_row(
    request: &BulkRequest,
    body: &RowBody,
    recipient: Recipient,
    now: TimestampMs,
) -> Result<Vec<u8>, String> {
    RowSigner {
        key: &request.key,
        issuer: &request.issuer,
        doc_type: &request.doc_type,
        name: &request.name,
        issued_on: request.issued_on,
        valid_to: request.valid_to,
    }
    .sign_as(SENT_AS, &body.doc_id, &body.holder, &body.fields, recipient, now)
}

/// The document a bulk row stands for: its canonical JSON.
fn document_json(uri: &DocUri, name: &Label, holder: &Label, fields: &[DocumentField]) -> Vec<u8> {
    let fields: BTreeMap<&str, &str> =
        fields.iter().map(|f| (f.key.as_str(), f.value.as_str())).collect();
    serde_json::to_vec(&serde_json::json!({
        "fields": fields,
        "holder": holder.as_str(),
        "name": name.as_str(),
        "uri": uri.to_string(),
    }))
    .unwrap_or_default()
}

/// Asks for the references of the batch's Aadhaar numbers at once.
async fn aadhaar_references(
    request: &BulkRequest,
    numbers: &[&Aadhaar],
) -> Result<Vec<Result<AadhaarRef, (String, String)>>, ClientError> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let digits: Vec<String> = numbers.iter().map(|a| a.expose_digits().to_owned()).collect();
    let body = serde_json::json!({ "aadhaar_numbers": digits }).to_string().into_bytes();
    let (status, answer) = crate::issue::post_as_issuer(
        (&request.server, &request.issuer, &request.key),
        request.clock.now(),
        "/v1/issuer/aadhaar-reference-batches",
        body,
        Duration::from_millis(crate::limits::REFERENCES_TIMEOUT_MS),
    )
    .await?;
    if status != 200 {
        // Refused for all of them (a revoked key, say): every row says why.
        let (code, message) = match serde_json::from_str::<wire::dto::ErrorDto>(&answer) {
            Ok(error) => (error.code, error.message),
            Err(_) => ("aadhaar_refused".to_owned(), answer),
        };
        return Ok(numbers.iter().map(|_| Err((code.clone(), message.clone()))).collect());
    }
    let answer: wire::dto::AadhaarBatchDto =
        serde_json::from_str(&answer).map_err(|e| ClientError::Answer(e.to_string()))?;
    Ok(answer
        .references
        .into_iter()
        .map(|r| {
            if let Some(error) = r.error {
                return Err(("invalid_aadhaar".to_owned(), error));
            }
            let bad = |e: String| ("bad_answer".to_owned(), e);
            Ok(AadhaarRef {
                keyed_hash: Digest32::from_hex(r.keyed_hash.as_deref().unwrap_or_default())
                    .map_err(|e| bad(e.to_string()))?,
                last4: Last4::parse(r.last4.as_deref().unwrap_or_default())
                    .map_err(|e| bad(e.to_string()))?,
            })
        })
        .collect())
}

/// Sends one batch, again after a failure in transit or a 503; returns each row's outcome.
async fn send_batch(server: &str, (format, rows): (Format, Vec<Vec<u8>>)) -> Vec<Outcome> {
    let wait = Duration::from_millis(BULK_RETRY_WAIT_FIRST_MS);
    send_batch_waiting(server, (format, rows), wait).await
}

/// `send_batch`, waiting `wait` before the first retry and twice as long before each next.
/// Rows refused `not_owner` (their partition was moving between a cluster's nodes; nothing
/// was written for them) are sent again on their own, within the same attempts.
async fn send_batch_waiting(
    server: &str,
    (format, rows): (Format, Vec<Vec<u8>>),
    mut wait: Duration,
) -> Vec<Outcome> {
    let count = rows.len();
    let url =
        match JsonClient::parse_url(&format!("{}/v1/issuer/batches", server.trim_end_matches('/')))
        {
            Ok(url) => url,
            Err(e) => return vec![rejected("bad_server", e.to_string()); count],
        };
    let client = JsonClient::new(Duration::from_millis(crate::limits::BATCH_TIMEOUT_MS));
    let headers = [("content-type", format.media_type().to_owned())];
    let mut outcomes: Vec<Option<Outcome>> = vec![None; count];
    let mut pending: Vec<usize> = (0..count).collect();
    let mut last = String::new();
    for attempt in 1..=BULK_SEND_ATTEMPTS {
        let body = format.join(pending.iter().map(|&i| rows[i].as_slice()));
        match client.send("POST", &url, &headers, body).await {
            Ok((200, answer)) => {
                let Some(results) = batch_results(&answer, pending.len()) else {
                    let bad = rejected("bad_answer", "the service's answer is not a batch result");
                    return fill(outcomes, &pending, bad);
                };
                let final_try = attempt == BULK_SEND_ATTEMPTS;
                let mut moving = Vec::new();
                for (&index, outcome) in pending.iter().zip(results) {
                    match outcome {
                        Outcome::Rejected { code, .. } if code == "not_owner" && !final_try => {
                            last = "rows refused not_owner: their partition was moving".to_owned();
                            moving.push(index);
                        }
                        outcome => outcomes[index] = Some(outcome),
                    }
                }
                pending = moving;
                if pending.is_empty() {
                    return fill(outcomes, &[], rejected("unavailable", ""));
                }
            }
            Ok((status, answer)) if status >= 500 => last = format!("HTTP {status}: {answer}"),
            Ok((status, answer)) => {
                let refused = rejected("batch_refused", format!("HTTP {status}: {answer}"));
                return fill(outcomes, &pending, refused);
            }
            Err(e) => last = e.to_string(),
        }
        if attempt < BULK_SEND_ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    let gave_up = rejected(
        "unavailable",
        format!("gave up after {BULK_SEND_ATTEMPTS} attempts; the last: {last}"),
    );
    fill(outcomes, &pending, gave_up)
}

/// The rows' outcomes from a batch's answer, if it is one for `rows` rows.
fn batch_results(answer: &str, rows: usize) -> Option<Vec<Outcome>> {
    let answer = serde_json::from_str::<wire::dto::BatchResult>(answer).ok()?;
    if answer.results.len() != rows {
        return None;
    }
    let outcome = |r: wire::dto::RowResult| match r.status.as_str() {
        "accepted" => Outcome::Accepted,
        "already_present" => Outcome::AlreadyPresent,
        _ => rejected(r.code.as_deref().unwrap_or("rejected"), r.message.unwrap_or_default()),
    };
    Some(answer.results.into_iter().map(outcome).collect())
}

/// Every row's outcome: the ones known, and `rest` for the rows in `pending`.
fn fill(outcomes: Vec<Option<Outcome>>, pending: &[usize], rest: Outcome) -> Vec<Outcome> {
    let mut outcomes = outcomes;
    for &index in pending {
        outcomes[index] = Some(rest.clone());
    }
    outcomes.into_iter().map(|o| o.unwrap_or_else(|| rest.clone())).collect()
}

/// Reads, signs and sends the whole file; `progress` hears of rows done and the rows in the
/// file (its lines, as counted first).
pub async fn run(
    request: BulkRequest,
    mut progress: impl FnMut(u64, u64),
) -> Result<BulkSummary, ClientError> {
    let request = Arc::new(request);
    let total = count_rows(&request)?;
    let (rows_in, mut rows_out) = tokio::sync::mpsc::channel(request.in_flight.max(1));
    let reader = {
        let request = Arc::clone(&request);
        tokio::task::spawn_blocking(move || read_rows(&request.file, request.batch_rows, &rows_in))
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(request.in_flight.max(1)));
    let mut sending = tokio::task::JoinSet::new();
    let mut tally = Tally::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    while let Some(chunk) = rows_out.recv().await {
        let ready = checked_rows(&request, chunk, &mut seen, &mut tally);
        let signing = with_recipients(&request, ready, &mut tally).await?;
        let batch = signed_rows(&request, signing, &mut tally).await?;
        progress(tally.done, total);
        if batch.is_empty() {
            continue;
        }
        let permit = Arc::clone(&slots).acquire_owned().await.map_err(ClientError::task)?;
        let server = request.server.clone();
        sending.spawn(async move {
            let rows: Vec<Vec<u8>> = batch.iter().map(|(_, _, row)| row.clone()).collect();
            let outcomes = send_batch(&server, (SENT_AS, rows)).await;
            drop(permit);
            (batch, outcomes)
        });
        // Collect what has finished, so memory stays bounded by the batches in flight.
        while let Some(finished) = sending.try_join_next() {
            let (batch, outcomes) = finished.map_err(ClientError::task)?;
            tally.sent(batch, outcomes);
            progress(tally.done, total);
        }
    }
    reader.await.map_err(ClientError::task)??;
    while let Some(finished) = sending.join_next().await {
        let (batch, outcomes) = finished.map_err(ClientError::task)?;
        tally.sent(batch, outcomes);
        progress(tally.done, total);
    }
    Ok(tally.summary)
}

/// How the tool sends its rows: binary (`wire::rows`), which the service parses without text;
/// NDJSON stays for people writing batches by hand.
const SENT_AS: Format = Format::Binary;

/// A row on its way: its line, its doc id, and what goes with it.
type Row<T> = (u64, String, T);

/// The verdicts so far, and how many rows have one.
#[derive(Default)]
struct Tally {
    summary: BulkSummary,
    done: u64,
}

impl Tally {
    fn add(&mut self, line: u64, doc_id: &str, outcome: Outcome) {
        self.summary.add(line, doc_id, outcome);
        self.done += 1;
    }

    fn sent(&mut self, batch: Vec<Row<Vec<u8>>>, outcomes: Vec<Outcome>) {
        for ((line, doc_id, _), outcome) in batch.into_iter().zip(outcomes) {
            self.add(line, &doc_id, outcome);
        }
    }
}

/// The rows the file holds (for progress): its lines, less the header of a CSV file.
fn count_rows(request: &BulkRequest) -> Result<u64, ClientError> {
    use std::io::BufRead;
    let file = std::fs::File::open(&request.file)
        .map_err(|e| ClientError::Input(format!("{}: {e}", request.file.display())))?;
    let lines = std::io::BufReader::new(file).lines().count() as u64;
    if request.file.extension().is_some_and(|e| e == "ndjson" || e == "jsonl") {
        Ok(lines)
    } else {
        Ok(lines.saturating_sub(1))
    }
}

/// The chunk's rows the tool accepts; the ones it refuses are reported at once.
fn checked_rows(
    request: &BulkRequest,
    chunk: Vec<Result<RawRow, (u64, Outcome)>>,
    seen: &mut HashMap<String, u64>,
    tally: &mut Tally,
) -> Vec<Row<RowBody>> {
    let mut ready = Vec::with_capacity(chunk.len());
    for row in chunk {
        match row {
            Ok(raw) => {
                let prepared = prepare(request, raw, seen);
                match prepared.body {
                    Ok(body) => ready.push((prepared.line, prepared.doc_id, body)),
                    Err(outcome) => tally.add(prepared.line, &prepared.doc_id, outcome),
                }
            }
            Err((line, outcome)) => tally.add(line, "", outcome),
        }
    }
    ready
}

/// Each row with its recipient: a locker as given, or the reference of its Aadhaar number
/// (asked for the whole chunk at once).
async fn with_recipients(
    request: &BulkRequest,
    ready: Vec<Row<RowBody>>,
    tally: &mut Tally,
) -> Result<Vec<(u64, String, RowBody, Recipient)>, ClientError> {
    let numbers: Vec<&Aadhaar> = ready
        .iter()
        .filter_map(|(_, _, b)| match &b.to {
            To::Aadhaar(a) => Some(a),
            To::Locker(_) => None,
        })
        .collect();
    let mut references = aadhaar_references(request, &numbers).await?.into_iter();
    let mut signing = Vec::with_capacity(ready.len());
    for (line, doc_id, body) in ready {
        let recipient = match &body.to {
            To::Locker(locker) => Ok(Recipient::Locker(*locker)),
            To::Aadhaar(_) => references
                .next()
                .unwrap_or_else(|| {
                    Err(("bad_answer".to_owned(), "no reference returned".to_owned()))
                })
                .map(Recipient::Aadhaar),
        };
        match recipient {
            Ok(recipient) => signing.push((line, doc_id, body, recipient)),
            Err((code, message)) => tally.add(line, &doc_id, rejected(&code, message)),
        }
    }
    Ok(signing)
}

/// The rows signed on all cores (one signature over the chunk when batch-signing).
async fn signed_rows(
    request: &Arc<BulkRequest>,
    signing: Vec<(u64, String, RowBody, Recipient)>,
    tally: &mut Tally,
) -> Result<Vec<Row<Vec<u8>>>, ClientError> {
    let now = request.clock.now();
    let signer = Arc::clone(request);
    let signed: Vec<(u64, String, Result<Vec<u8>, String>)> =
        tokio::task::spawn_blocking(move || {
            if signer.batch_sign && !signing.is_empty() {
                return sign_chunk_as_one(&signer, signing, now);
            }
            signing
                .into_par_iter()
                .map(|(line, doc_id, body, recipient)| {
                    let row = sign_row(&signer, &body, recipient, now);
                    (line, doc_id, row)
                })
                .collect()
        })
        .await
        .map_err(ClientError::task)?;
    let mut batch = Vec::with_capacity(signed.len());
    for (line, doc_id, row) in signed {
        match row {
            Ok(row) => batch.push((line, doc_id, row)),
            Err(e) => tally.add(line, &doc_id, rejected("signing_failed", e)),
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ndjson(lines: &[&str]) -> (Format, Vec<Vec<u8>>) {
        (Format::Ndjson, lines.iter().map(|l| l.as_bytes().to_vec()).collect())
    }

    /// A server on a real port that answers its `call`th request (from 0, with the request's
    /// body) as `answer` says: a status line and a JSON body.
    fn scripted_server(
        answer: impl Fn(usize, &str) -> (&'static str, &'static str) + Send + 'static,
    ) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            for (call, socket) in listener.incoming().enumerate() {
                let Ok(mut socket) = socket else { return };
                let mut request = vec![0u8; 1 << 16];
                let read = socket.read(&mut request).unwrap_or(0);
                let text = String::from_utf8_lossy(&request[..read]).into_owned();
                let (status, body) = answer(call, text.split("\r\n\r\n").nth(1).unwrap_or(""));
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes());
            }
        });
        format!("http://{address}")
    }

    /// A server that answers 503 to its first `failures` calls (as a service whose log is
    /// briefly unavailable does), then a batch's answer; counts the calls.
    fn flaky_server(failures: usize) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let server = scripted_server(move |call, _| {
            seen.fetch_add(1, Ordering::SeqCst);
            if call < failures {
                ("503 Service Unavailable", r#"{"code":"unavailable","message":"try again"}"#)
            } else {
                (
                    "200 OK",
                    r#"{"rows":2,"accepted":1,"already_present":1,"rejected":0,"results":[{"row":1,"status":"accepted"},{"row":2,"status":"already_present"}]}"#,
                )
            }
        });
        (server, calls)
    }

    #[tokio::test]
    async fn a_batch_the_service_could_not_write_is_sent_again() {
        let (server, calls) = flaky_server(1);
        let outcomes = send_batch(&server, ndjson(&["{}", "{}"])).await;
        assert_eq!(outcomes, vec![Outcome::Accepted, Outcome::AlreadyPresent]);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one retry");
    }

    /// A server (a cluster node during a move) that accepts row 1 and refuses row 2
    /// `not_owner`, then accepts what is sent again; keeps the bodies it was sent.
    fn moving_server() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        let server = scripted_server(move |call, body| {
            seen.lock().expect("lock").push(body.to_owned());
            let answer = if call == 0 {
                r#"{"rows":2,"accepted":1,"already_present":0,"rejected":1,"results":[{"row":1,"status":"accepted"},{"row":2,"status":"rejected","code":"not_owner","message":"another node owns locker.events/3"}]}"#
            } else {
                r#"{"rows":1,"accepted":1,"already_present":0,"rejected":0,"results":[{"row":1,"status":"accepted"}]}"#
            };
            ("200 OK", answer)
        });
        (server, bodies)
    }

    #[tokio::test]
    async fn rows_refused_while_their_partition_moves_are_sent_again_alone() {
        let (server, bodies) = moving_server();
        let lines = ndjson(&["{\"row\":1}", "{\"row\":2}"]);
        let outcomes = send_batch_waiting(&server, lines, Duration::from_millis(1)).await;
        assert_eq!(outcomes, vec![Outcome::Accepted, Outcome::Accepted]);
        let bodies = bodies.lock().expect("lock").clone();
        assert_eq!(bodies, ["{\"row\":1}\n{\"row\":2}", "{\"row\":2}"], "only row 2 again");
    }

    #[tokio::test]
    async fn a_batch_is_given_up_after_the_last_attempt_and_every_row_says_why() {
        let attempts = BULK_SEND_ATTEMPTS as usize;
        let (server, calls) = flaky_server(attempts);
        let outcomes =
            send_batch_waiting(&server, ndjson(&["{}", "{}"]), Duration::from_millis(1)).await;
        assert_eq!(calls.load(Ordering::SeqCst), attempts, "no attempt past the limit");
        assert_eq!(outcomes.len(), 2);
        for outcome in outcomes {
            let Outcome::Rejected { code, message } = outcome else {
                panic!("given up, yet {outcome:?}")
            };
            assert_eq!(code, "unavailable");
            assert!(message.contains("gave up after 6 attempts"), "{message}");
            assert!(message.contains("HTTP 503") && message.contains("try again"), "{message}");
        }
        // The next server call is the success the client no longer waited for.
        let late = send_batch_waiting(&server, ndjson(&["{}", "{}"]), Duration::ZERO);
        assert_eq!(late.await, vec![Outcome::Accepted, Outcome::AlreadyPresent]);
    }

    #[test]
    fn each_record_of_a_results_file_gets_its_verdict() {
        // UIDAI's published test number 4991 1866 5246, then a wrong check digit.
        let file = "roll_no,name,aadhaar,locker,issuer,physics\n\
                    1001,Asha Kumari,4991 1866 5246,,in.gov.cbse,89\n\
                    1002,Ravi,4991 1866 5247,,in.gov.cbse,70\n\
                    1001,Asha Again,4991 1866 5246,,in.gov.cbse,89\n\
                    1003,Meera,,,in.gov.other,90\n\
                    1004,\"unclosed,,,in.gov.cbse\n";
        let checked = check_csv(&BulkRequest::example(), file.as_bytes()).expect("a header row");
        let verdicts: Vec<_> = checked.iter().map(|(_, id, v)| (id.as_str(), v.clone())).collect();
        assert_eq!(
            verdicts[..4],
            [
                ("1001", Ok(())),
                ("1002", Err("invalid_aadhaar".to_owned())),
                ("1001", Err("duplicate_row".to_owned())),
                ("1003", Err("other_issuer".to_owned())),
            ]
        );
        assert_eq!(checked.len(), 5, "{checked:?}");
        assert!(checked[4].2.is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The fuzz target's property (fuzz/fuzz_targets/csv_rows.rs), in every test run:
        /// any bytes after a valid header give an answer per record and never a panic, and
        /// a row that passes has a valid doc id.
        #[test]
        fn any_csv_gets_an_answer_per_record(
            body in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::sample::select(b",\"\n\r 0123456789abcXYZ.-".to_vec()),
                ],
                0..400,
            )
        ) {
            let mut file = b"roll_no,name,aadhaar,locker,issuer,physics\n".to_vec();
            file.extend_from_slice(&body);
            let checked = check_csv(&BulkRequest::example(), &file).expect("a header row");
            for (_, doc_id, verdict) in checked {
                match verdict {
                    Ok(()) => proptest::prop_assert!(DocId::parse(&doc_id).is_ok(), "{doc_id:?}"),
                    Err(code) => proptest::prop_assert!(!code.is_empty()),
                }
            }
        }
    }
}
