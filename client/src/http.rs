//! A small HTTP/1.1 client for the command line and the SMS gateway (`locker issue`,
//! `locker admin`, `locker requester`). Plain http://.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::ClientError;

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
    pub fn parse_url(url: &str) -> Result<hyper::Uri, ClientError> {
        let invalid = |reason: String| ClientError::Url { url: url.to_owned(), reason };
        let parsed: hyper::Uri =
            url.parse().map_err(|e: hyper::http::uri::InvalidUri| invalid(e.to_string()))?;
        if parsed.scheme_str() != Some("http") {
            return Err(invalid("only http:// is supported".to_owned()));
        }
        Ok(parsed)
    }

    /// POSTs `body` as JSON; returns the status and the response body.
    pub async fn post(&self, url: &hyper::Uri, body: String) -> Result<(u16, String), ClientError> {
        self.send(
            "POST",
            url,
            &[("content-type", "application/json".to_owned())],
            body.into_bytes(),
        )
        .await
    }

    /// Sends a request and reads a 2xx answer as `T` (a `wire::dto` type); any other status
    /// is the service's refusal, with its code.
    pub async fn typed<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let uri = Self::parse_url(url)?;
        let (status, text) = self.send(method, &uri, headers, body).await?;
        let doing = format!("{method} {}", without_query(url));
        if !(200..300).contains(&status) {
            return Err(ClientError::refused(doing, status, &text));
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Answer(format!("{doing}: {e}")))
    }

    /// Sends a request with extra headers; returns the status and the response body.
    pub async fn send(
        &self,
        method: &str,
        url: &hyper::Uri,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, String), ClientError> {
        let (status, bytes) = self.send_bytes(method, url, headers, body).await?;
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// `send`, with the response body as it came (a document's bytes).
    pub async fn send_bytes(
        &self,
        method: &str,
        url: &hyper::Uri,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let response = self.open(method, url, headers, body).await?;
        let status = response.status().as_u16();
        let broken = |reason: String| ClientError::Transport {
            url: without_query(&url.to_string()).to_owned(),
            reason,
        };
        let bytes = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .map_err(|_| broken("the answer did not finish in time".to_owned()))?
            .map_err(|e| broken(e.to_string()))?
            .to_bytes();
        Ok((status, bytes.to_vec()))
    }

    /// Sends a request and returns the response as soon as its head arrives, for streams.
    pub async fn open(
        &self,
        method: &str,
        url: &hyper::Uri,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let broken = |reason: String| ClientError::Transport {
            url: without_query(&url.to_string()).to_owned(),
            reason,
        };
        let mut request = hyper::Request::builder().method(method).uri(url.clone());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Input(format!("request to {url}: {e}")))?;
        let timeout_ms = self.timeout.as_millis();
        tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| broken(format!("did not answer in {timeout_ms} ms")))?
            .map_err(|e| broken(e.to_string()))
    }
}

/// A URL as errors name it: without its query, which may carry personal data (an upload's
/// file name).
fn without_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_a_url_without_its_query() {
        assert_eq!(
            without_query("http://127.0.0.1:8080/v1/citizen/uploads?name=aadhaar-card.pdf"),
            "http://127.0.0.1:8080/v1/citizen/uploads"
        );
        assert_eq!(without_query("http://h/v1/stats"), "http://h/v1/stats");
    }
}
