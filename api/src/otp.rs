//! Delivering one-time passwords. In demo and development the code goes to the server log;
//! otherwise it is POSTed as JSON to a configured SMS gateway.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use schemas::MobileNumber;

use crate::client::JsonClient;

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
