//! A proof bundle's document as the service sees it now (`POST /v1/ledger/status`): revoked,
//! superseded, deleted, or still current.

use std::time::Duration;

use wire::dto::DocumentStatusDto;

use crate::ClientError;

/// What `POST /v1/ledger/status` of `server` says of a bundle's document, in a line (for
/// `locker verify-bundle --status-from`).
pub async fn ask_status(server: &str, bundle: Vec<u8>) -> Result<String, ClientError> {
    let url = format!("{}/v1/ledger/status", server.trim_end_matches('/'));
    // As `locker monitor` waits for the same service.
    let client =
        crate::http::JsonClient::new(Duration::from_millis(crate::limits::REQUEST_TIMEOUT_MS));
    let headers = [("content-type", "application/json".to_owned())];
    let answer: DocumentStatusDto = client.typed("POST", &url, &headers, bundle).await?;
    let mut line = answer.status.clone();
    if let Some(reason) = &answer.revoked_reason {
        line += &format!(" ({reason})");
    }
    if !answer.current && answer.status != "deleted" {
        line += ", and the bundle proves an earlier version";
    }
    Ok(format!("{line} (as {server} reports it)"))
}
