//! Delivering one-time passwords. In demo and development the code goes to the server log;
//! otherwise it is POSTed as JSON to a configured SMS gateway.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use schemas::MobileNumber;

use crate::limits::OTP_GATEWAY_TIMEOUT_MS;

pub type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub trait OtpSender: Send + Sync {
    fn send<'a>(&'a self, mobile: &'a MobileNumber, code: &'a str) -> Delivery<'a>;
}

/// Writes the code to the server log: for the demo and development only.
#[derive(Debug, Default)]
pub struct LogSender;

impl OtpSender for LogSender {
    fn send<'a>(&'a self, mobile: &'a MobileNumber, code: &'a str) -> Delivery<'a> {
        tracing::info!(mobile = %mobile.masked(), code, "one-time password (log sender: demo/development only)");
        Box::pin(async { Ok(()) })
    }
}

/// POSTs `{"mobile": "<10 digits>", "message": "..."}` to an SMS gateway (plain HTTP; put a
/// TLS-terminating proxy in front for a gateway on another machine).
#[derive(Debug)]
pub struct HttpSender {
    url: hyper::Uri,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl HttpSender {
    pub fn new(url: &str) -> Result<Self, String> {
        let url: hyper::Uri = url.parse().map_err(|e| format!("OTP gateway URL {url:?}: {e}"))?;
        if url.scheme_str() != Some("http") {
            return Err(format!("OTP gateway URL {url}: only http:// is supported"));
        }
        Ok(HttpSender { url, client: Client::builder(TokioExecutor::new()).build_http() })
    }
}

impl OtpSender for HttpSender {
    fn send<'a>(&'a self, mobile: &'a MobileNumber, code: &'a str) -> Delivery<'a> {
        Box::pin(async move {
            let body = serde_json::json!({
                "mobile": mobile.as_str(),
                "message": format!("{code} is your locker verification code. It expires in 5 minutes."),
            })
            .to_string();
            let request = hyper::Request::post(self.url.clone())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| e.to_string())?;
            let response = tokio::time::timeout(
                Duration::from_millis(OTP_GATEWAY_TIMEOUT_MS),
                self.client.request(request),
            )
            .await
            .map_err(|_| format!("the SMS gateway did not answer in {OTP_GATEWAY_TIMEOUT_MS} ms"))?
            .map_err(|e| format!("SMS gateway: {e}"))?;
            let status = response.status();
            let _ = response.into_body().collect().await;
            if !status.is_success() {
                return Err(format!("the SMS gateway answered {status}"));
            }
            Ok(())
        })
    }
}
