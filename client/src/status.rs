//! A proof bundle's document as the service sees it now (`POST /v1/ledger/status`): revoked,
//! superseded, deleted, or still current.

use std::time::Duration;

use crate::ClientError;

/// What `POST /v1/ledger/status` of `server` says of a bundle's document, in a line (for
/// `locker verify-bundle --status-from`).
pub async fn ask_status(server: &str, bundle: Vec<u8>) -> Result<String, ClientError> {
    let url = crate::http::JsonClient::parse_url(&format!(
        "{}/v1/ledger/status",
        server.trim_end_matches('/')
    ))?;
    // As `locker monitor` waits for the same service.
    let client =
        crate::http::JsonClient::new(Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS));
    let headers = [("content-type", "application/json".to_owned())];
    let (code, body) = client.send("POST", &url, &headers, bundle).await?;
    if code != 200 {
        return Err(ClientError::refused(format!("POST {url}"), code, &body));
    }
    let answer: serde_json::Value = serde_json::from_str(&body)
        .map_err(|e| ClientError::Answer(format!("{url}: not JSON: {e}")))?;
    let mut line = answer["status"].as_str().unwrap_or("unknown").to_owned();
    if let Some(reason) = answer["revoked_reason"].as_str() {
        line += &format!(" ({reason})");
    }
    if answer["current"] == false && answer["status"] != "deleted" {
        line += ", and the bundle proves an earlier version";
    }
    Ok(format!("{line} (as {server} reports it)"))
}
