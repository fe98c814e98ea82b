//! A small HTTP/1.1 client for JSON POSTs (the SMS gateway, `locker issue`). Plain http://.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, Clone)]
pub struct JsonClient {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl JsonClient {
    pub fn new(timeout: Duration) -> Self {
        JsonClient { client: Client::builder(TokioExecutor::new()).build_http(), timeout }
    }

    /// Checks a URL once, up front: only http:// is supported.
    pub fn parse_url(url: &str) -> Result<hyper::Uri, String> {
        let parsed: hyper::Uri = url.parse().map_err(|e| format!("URL {url:?}: {e}"))?;
        if parsed.scheme_str() != Some("http") {
            return Err(format!("URL {url}: only http:// is supported"));
        }
        Ok(parsed)
    }

    /// POSTs `body` as JSON; returns the status and the response body.
    pub async fn post(&self, url: &hyper::Uri, body: String) -> Result<(u16, String), String> {
        let request = hyper::Request::post(url.clone())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let timeout_ms = self.timeout.as_millis();
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| format!("{url} did not answer in {timeout_ms} ms"))?
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }
}
