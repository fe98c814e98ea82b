//! Delivering one-time passwords. In demo and development the code goes to the server log;
//! otherwise it is POSTed as JSON to a configured SMS gateway.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use schemas::MobileNumber;

use client::http::JsonClient;

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
    client: JsonClient,
}

impl HttpSender {
    pub fn new(url: &str) -> Result<Self, String> {
        let url = JsonClient::parse_url(url).map_err(|e| format!("OTP gateway {e}"))?;
        Ok(HttpSender {
            url,
            client: JsonClient::new(Duration::from_millis(OTP_GATEWAY_TIMEOUT_MS)),
        })
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
            let (status, _) =
                self.client.post(&self.url, body).await.map_err(|e| format!("SMS gateway: {e}"))?;
            if !(200..300).contains(&status) {
                return Err(format!("the SMS gateway answered {status}"));
            }
            Ok(())
        })
    }
}

/// How many codes may be sent: from one source address in an hour, and in all in an hour.
/// The per-number limit (`limits::OTP_SENDS_MAX`) stops nobody who asks for many numbers:
/// without these, anyone could make the platform text the whole country.
#[derive(Debug)]
pub struct SendLimits {
    per_source: crate::store::quota::Quota<Vec<u8>>,
    total: crate::store::quota::Quota<()>,
}

impl Default for SendLimits {
    fn default() -> Self {
        use crate::limits::{OTP_SENDS_PER_HOUR, OTP_SENDS_PER_SOURCE_PER_HOUR};
        SendLimits::new(OTP_SENDS_PER_SOURCE_PER_HOUR, OTP_SENDS_PER_HOUR)
    }
}

impl SendLimits {
    pub fn new(per_source_per_hour: u64, total_per_hour: u64) -> Self {
        SendLimits {
            per_source: crate::store::quota::Quota::per_hour(per_source_per_hour),
            total: crate::store::quota::Quota::per_hour(total_per_hour),
        }
    }

    /// Counts one code from `source`, or says in how many seconds one may be sent.
    pub fn take(&self, source: &[u8], now: schemas::TimestampMs) -> Result<(), u64> {
        self.per_source.take(&source.to_vec(), 1, now)?;
        self.total.take(&(), 1, now)
    }
}
