//! The one error of the client library.

use wire::ErrorCode;

/// Why a call did not give what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A URL the client cannot use (only plain http:// is supported).
    #[error("URL {url}: {reason}")]
    Url { url: String, reason: String },
    /// The service could not be reached, or did not answer in time.
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    /// The service refused what the client was `doing`: its status, its code (when it is one
    /// the contract names), and its message.
    #[error("{doing}: HTTP {status}{}: {message}", code.map(|c| format!(" {c}")).unwrap_or_default())]
    Refused { doing: String, status: u16, code: Option<ErrorCode>, message: String },
    /// The service's answer is not what the contract says.
    #[error("unexpected answer: {0}")]
    Answer(String),
    /// What the caller gave cannot be used (a key, a file, a value).
    #[error("{0}")]
    Input(String),
    /// A check the client makes itself failed (a monitor's round: a fork, a shrunk log).
    #[error("{0}")]
    Check(String),
    /// A worker task of the client itself failed (a panic, a closed semaphore).
    #[error("a worker task failed: {0}")]
    Task(String),
    /// Signing or encoding an event failed.
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Schema(#[from] schemas::SchemaError),
}

impl ClientError {
    /// A refusal of what the client was `doing`, from the service's `{code, message}` answer
    /// (or its raw text). The code's variant is the one with that string and that status.
    pub fn refused(doing: impl Into<String>, status: u16, body: &str) -> ClientError {
        let parsed: Option<wire::dto::ErrorDto> = serde_json::from_str(body).ok();
        let code = parsed.as_ref().and_then(|error| {
            let code = error.code.as_str();
            let mut same = ErrorCode::ALL.iter().copied().filter(|known| known.code() == code);
            let first = same.clone().next();
            same.find(|known| known.status() == status).or(first)
        });
        ClientError::Refused {
            doing: doing.into(),
            status,
            code,
            message: parsed.map(|error| error.message).unwrap_or_else(|| body.to_owned()),
        }
    }

    pub(crate) fn task(e: impl std::fmt::Display) -> ClientError {
        ClientError::Task(e.to_string())
    }

    /// The contract's code of a refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused { code, .. } => *code,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_keeps_the_contracts_code_and_the_message() {
        let body = r#"{"code":"consent_revoked","message":"revoked"}"#;
        let e = ClientError::refused("reading", 403, body);
        assert_eq!(e.code(), Some(ErrorCode::ConsentRevoked));
        assert_eq!(e.to_string(), "reading: HTTP 403 consent_revoked: revoked");
        let e = ClientError::refused("asking", 502, "Bad Gateway");
        assert_eq!(e.code(), None);
        assert_eq!(e.to_string(), "asking: HTTP 502: Bad Gateway");
        // A code answered with two statuses is the variant of the status it came with.
        let streams = r#"{"code":"too_many_streams","message":"m"}"#;
        for status in [429, 503] {
            let code = ClientError::refused("x", status, streams).code().expect("code");
            assert_eq!((code.code(), code.status()), ("too_many_streams", status));
        }
    }
}
