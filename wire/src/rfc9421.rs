//! HTTP Message Signatures (RFC 9421) with Ed25519, as requesters sign their requests, and
//! Content-Digest (RFC 9530, sha-256) for the bodies they cover.
//!
//! This module builds signature bases and checks signatures; it does not know who a key
//! belongs to. The policy of what a locker request must cover lives in the server
//! (`server/src/http/signed.rs`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

/// The parts of a request that derived components name.
#[derive(Clone)]
pub struct Message<'a> {
    pub method: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    /// Without the leading `?`; empty when the request has no query.
    pub query: &'a str,
    /// Header lookup by lower-case name (several values are joined with ", ").
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

/// A parsed `Signature-Input` member with its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInput {
    pub label: String,
    pub components: Vec<String>,
    pub created: Option<i64>,
    pub expires: Option<i64>,
    pub keyid: Option<String>,
    pub alg: Option<String>,
    pub nonce: Option<String>,
    /// The inner list and parameters exactly as sent: the `@signature-params` value.
    pub params_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignatureError(pub String);

fn fail<T>(message: impl Into<String>) -> Result<T, SignatureError> {
    Err(SignatureError(message.into()))
}

/// Parses `label=("c1" "c2");created=1;keyid="k"`: exactly one signature.
pub fn parse_signature_input(text: &str) -> Result<SignatureInput, SignatureError> {
    let text = text.trim();
    let Some((label, rest)) = text.split_once('=') else {
        return fail("Signature-Input must be label=(components);parameters");
    };
    let label = label.trim();
    if label.is_empty() || !label.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.*".contains(&b))
    {
        return fail(format!("Signature-Input label {label:?} is not a token"));
    }
    let rest = rest.trim();
    let Some(inner) = rest.strip_prefix('(') else {
        return fail("Signature-Input must start its value with an inner list `(`");
    };
    let Some(close) = inner.find(')') else {
        return fail("Signature-Input's component list is not closed");
    };
    let mut components = Vec::new();
    for item in inner[..close].split(' ').filter(|s| !s.is_empty()) {
        let Some(name) = item.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
            return fail(format!("component {item:?} must be a quoted name without parameters"));
        };
        if name.is_empty()
            || name.bytes().any(|b| b.is_ascii_uppercase() || b == b'"' || b == b'\\')
        {
            return fail(format!("component name {name:?} must be lower case"));
        }
        if components.iter().any(|c| c == name) {
            return fail(format!("component {name:?} is listed twice"));
        }
        components.push(name.to_owned());
    }
    let mut input = SignatureInput {
        label: label.to_owned(),
        components,
        created: None,
        expires: None,
        keyid: None,
        alg: None,
        nonce: None,
        params_text: rest.to_owned(),
    };
    let params = &inner[close + 1..];
    if params.contains(',') {
        return fail("send exactly one signature");
    }
    for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = param.split_once('=') else {
            return fail(format!("signature parameter {param:?} has no value"));
        };
        let string = || {
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|v| !v.contains(['"', '\\']))
                .map(str::to_owned)
                .ok_or_else(|| SignatureError(format!("{name} must be a quoted string")))
        };
        let integer = || {
            value.parse::<i64>().map_err(|_| SignatureError(format!("{name} must be an integer")))
        };
        match name {
            "created" => input.created = Some(integer()?),
            "expires" => input.expires = Some(integer()?),
            "keyid" => input.keyid = Some(string()?),
            "alg" => input.alg = Some(string()?),
            "nonce" => input.nonce = Some(string()?),
            "tag" => {}
            other => return fail(format!("unknown signature parameter {other:?}")),
        }
    }
    Ok(input)
}

/// Parses `label=:base64:` for the given label.
pub fn parse_signature(text: &str, label: &str) -> Result<[u8; 64], SignatureError> {
    let Some((got, value)) = text.trim().split_once('=') else {
        return fail("Signature must be label=:base64:");
    };
    if got.trim() != label {
        return fail(format!("Signature is labelled {got:?}, Signature-Input {label:?}"));
    }
    let Some(encoded) = value.trim().strip_prefix(':').and_then(|v| v.strip_suffix(':')) else {
        return fail("Signature's value must be a byte sequence :base64:");
    };
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| SignatureError(format!("Signature is not base64: {e}")))?;
    <[u8; 64]>::try_from(bytes)
        .map_err(|b| SignatureError(format!("an Ed25519 signature has 64 bytes, not {}", b.len())))
}

/// The signature base of RFC 9421 section 2.5.
pub fn signature_base(
    message: &Message<'_>,
    input: &SignatureInput,
) -> Result<String, SignatureError> {
    let mut base = String::new();
    for name in &input.components {
        let value = match name.as_str() {
            "@method" => message.method.to_owned(),
            "@authority" => message.authority.to_ascii_lowercase(),
            "@path" => message.path.to_owned(),
            "@query" => format!("?{}", message.query),
            "@target-uri" => {
                let query = if message.query.is_empty() {
                    String::new()
                } else {
                    format!("?{}", message.query)
                };
                format!("http://{}{}{query}", message.authority, message.path)
            }
            derived if derived.starts_with('@') => {
                return fail(format!("derived component {derived:?} is not supported"));
            }
            header => (message.header)(header)
                .ok_or_else(|| SignatureError(format!("covered header {header:?} is missing")))?,
        };
        if value.contains('\n') {
            return fail(format!("component {name:?} contains a newline"));
        }
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {}", input.params_text));
    Ok(base)
}

/// `sha-256=:base64:` of a body (RFC 9530).
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(sha2::Sha256::digest(body)))
}

/// Whether a Content-Digest header holds the body's sha-256 (other algorithms are ignored;
/// sha-256 must be among them).
pub fn check_content_digest(header: &str, body: &[u8]) -> Result<(), SignatureError> {
    let want = sha2::Sha256::digest(body);
    for member in header.split(',') {
        let Some((algorithm, value)) = member.trim().split_once('=') else { continue };
        if algorithm.trim() != "sha-256" {
            continue;
        }
        let encoded = value.trim().trim_matches(':');
        let got = STANDARD
            .decode(encoded)
            .map_err(|e| SignatureError(format!("Content-Digest is not base64: {e}")))?;
        return if got.as_slice() == want.as_slice() {
            Ok(())
        } else {
            fail("Content-Digest does not match the body")
        };
    }
    fail("Content-Digest must carry sha-256")
}

/// What a client sends: the `Signature-Input`, `Signature` and, with a body,
/// `Content-Digest` headers for a request covering the method, path, query and body digest.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    pub signature_input: String,
    pub signature: String,
    pub content_digest: Option<String>,
}

impl SignedHeaders {
    /// The headers to send: the signature, and with a body its digest and a JSON content type.
    pub fn into_headers(self) -> Vec<(&'static str, String)> {
        let mut headers =
            vec![("signature-input", self.signature_input), ("signature", self.signature)];
        if let Some(digest) = self.content_digest {
            headers.push(("content-digest", digest));
            headers.push(("content-type", "application/json".to_owned()));
        }
        headers
    }
}

/// Where a signed request goes: what its derived components are.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub method: &'a str,
    /// `host[:port]` as the request's Host header will carry it (the URL's authority).
    pub authority: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

/// Signs a request as a locker requester does: method, authority, path, query and, with a
/// body, its Content-Digest. Covering the authority binds the signature to one service.
pub fn sign_request(
    key: &ed25519_dalek::SigningKey,
    keyid: &str,
    created_s: i64,
    target: Target<'_>,
    body: &[u8],
) -> SignedHeaders {
    use ed25519_dalek::Signer;
    let Target { method, authority, path, query } = target;
    let content_digest = (!body.is_empty()).then(|| content_digest(body));
    let mut components = vec!["\"@method\"", "\"@authority\"", "\"@path\"", "\"@query\""];
    if content_digest.is_some() {
        components.push("\"content-digest\"");
    }
    // A fresh nonce: two identical requests in one second would otherwise carry the same
    // (deterministic) signature, and the service refuses a signature it has seen.
    let nonce: String = {
        let mut bytes = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        schemas::to_hex(&bytes)
    };
    let params_text = format!(
        "({});created={created_s};keyid=\"{keyid}\";alg=\"ed25519\";nonce=\"{nonce}\"",
        components.join(" ")
    );
    let input = SignatureInput {
        label: "sig1".to_owned(),
        components: components.iter().map(|c| c.trim_matches('"').to_owned()).collect(),
        created: Some(created_s),
        expires: None,
        keyid: Some(keyid.to_owned()),
        alg: Some("ed25519".to_owned()),
        nonce: Some(nonce),
        params_text: params_text.clone(),
    };
    let digest = content_digest.clone();
    let header = move |name: &str| (name == "content-digest").then(|| digest.clone()).flatten();
    let message = Message { method, authority, path, query, header: &header };
    let base = signature_base(&message, &input).unwrap_or_else(|e| unreachable!("{e}"));
    let signature = key.sign(base.as_bytes()).to_bytes();
    SignedHeaders {
        signature_input: format!("sig1={params_text}"),
        signature: format!("sig1=:{}:", STANDARD.encode(signature)),
        content_digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9421 appendix B.2.6: the published Ed25519 example, byte for byte.
    #[test]
    fn the_rfc_ed25519_example_verifies() {
        let der = STANDARD
            .decode("MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=")
            .expect("base64");
        let public: [u8; 32] = der[der.len() - 32..].try_into().expect("32 bytes");
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).expect("key");
        let input = parse_signature_input(
            "sig-b26=(\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\"",
        )
        .expect("input");
        assert_eq!(input.keyid.as_deref(), Some("test-key-ed25519"));
        let header = |name: &str| {
            match name {
                "date" => Some("Tue, 20 Apr 2021 02:07:55 GMT"),
                "content-type" => Some("application/json"),
                "content-length" => Some("18"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let message = Message {
            method: "POST",
            authority: "example.com",
            path: "/foo",
            query: "param=Value&Pet=dog",
            header: &header,
        };
        let base = signature_base(&message, &input).expect("base");
        assert_eq!(
            base,
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@method\": POST\n\"@path\": /foo\n\"@authority\": example.com\n\"content-type\": application/json\n\"content-length\": 18\n\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
        );
        let signature = parse_signature(
            "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
            "sig-b26",
        )
        .expect("signature");
        key.verify_strict(base.as_bytes(), &ed25519_dalek::Signature::from_bytes(&signature))
            .expect("the RFC's signature verifies over our base");
    }

    /// RFC 9530's example: `{"hello": "world"}` has this sha-256 digest.
    #[test]
    fn content_digest_matches_rfc_9530() {
        assert_eq!(
            content_digest(b"{\"hello\": \"world\"}"),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        assert!(
            check_content_digest(
                "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                b"{\"hello\": \"world\"}"
            )
            .is_ok()
        );
        assert!(
            check_content_digest(
                "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                b"{\"hello\": \"World\"}"
            )
            .is_err()
        );
        assert!(check_content_digest("sha-512=:abc=:", b"").is_err());
    }

    #[test]
    fn our_own_signatures_round_trip_and_bad_input_is_named() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let target = Target { method: "POST", authority: "h", path: "/v1/x", query: "a=1" };
        let signed = sign_request(&key, "bank:00", 1_700_000_000, target, b"{}");
        let input = parse_signature_input(&signed.signature_input).expect("input");
        assert_eq!(
            input.components,
            ["@method", "@authority", "@path", "@query", "content-digest"]
        );
        let digest = signed.content_digest.clone();
        let header = move |name: &str| (name == "content-digest").then(|| digest.clone()).flatten();
        let message = Message {
            method: "POST",
            authority: "h",
            path: "/v1/x",
            query: "a=1",
            header: &header,
        };
        let base = signature_base(&message, &input).expect("base");
        let signature = parse_signature(&signed.signature, "sig1").expect("sig");
        key.verifying_key()
            .verify_strict(base.as_bytes(), &ed25519_dalek::Signature::from_bytes(&signature))
            .expect("verifies");
        for bad in [
            "",
            "sig1",
            "sig1=\"@method\"",
            "sig1=(\"@method\"",
            "sig1=(@method);created=1",
            "sig1=(\"@Method\");created=1",
            "sig1=(\"@method\" \"@method\");created=1",
            "sig1=(\"@method\");created=x",
            "sig1=(\"@method\");keyid=unquoted",
            "sig1=(\"@method\");weird=1",
            "sig1=(\"@method\");created=1, sig2=(\"@path\");created=1",
        ] {
            assert!(parse_signature_input(bad).is_err(), "{bad:?}");
        }
        assert!(parse_signature("sig2=:AAAA:", "sig1").is_err());
        assert!(parse_signature("sig1=:AAAA:", "sig1").is_err());
        assert!(parse_signature("sig1=AAAA", "sig1").is_err());
    }
}
