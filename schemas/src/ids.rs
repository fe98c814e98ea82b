//! Identifiers and bounded values. Each type validates on construction (`parse`, `FromStr`,
//! `TryFrom<String>`, and so on deserialization), so an invalid value cannot be represented.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::SchemaError;
use crate::limits;

/// Declares a string-backed identifier whose every instance passed `$check`.
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, SchemaError> {
                $check(text).map_err(|reason| SchemaError::invalid($kind, reason))?;
                Ok($name(text.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = SchemaError;
            fn from_str(text: &str) -> Result<Self, SchemaError> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = SchemaError;
            fn try_from(text: String) -> Result<Self, SchemaError> {
                $check(&text).map_err(|reason| SchemaError::invalid($kind, reason))?;
                Ok($name(text))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

fn check_org_id(text: &str) -> Result<(), String> {
    let len = text.chars().count();
    if !(limits::ORG_ID_CHARS_MIN..=limits::ORG_ID_CHARS_MAX).contains(&len) {
        return Err(format!(
            "{text:?} must be {} to {} characters",
            limits::ORG_ID_CHARS_MIN,
            limits::ORG_ID_CHARS_MAX
        ));
    }
    for segment in text.split('.') {
        let Some(first) = segment.chars().next() else {
            return Err(format!("{text:?} has an empty dot-separated segment"));
        };
        if !first.is_ascii_lowercase() {
            return Err(format!("{text:?}: each segment must start with a lowercase letter"));
        }
        // A dash would make document URIs (`IssuerId-DocType-DocId`) ambiguous.
        if !segment.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(format!(
                "{text:?} may hold only lowercase letters, digits and dots (no dashes)"
            ));
        }
    }
    Ok(())
}

validated_string!(
    /// An issuer's organisation id in reverse-domain form, such as `in.gov.cbse`.
    IssuerId, "issuer id", check_org_id
);
validated_string!(
    /// A requester's organisation id in reverse-domain form, such as `in.co.sbi`.
    RequesterId, "requester id", check_org_id
);

fn check_doc_type(text: &str) -> Result<(), String> {
    if text.len() != 5 || !text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return Err(format!("{text:?} must be exactly 5 characters A-Z or 0-9, such as HSCER"));
    }
    Ok(())
}

validated_string!(
    /// A document type code of exactly five characters, such as `HSCER` or `DRVLC`.
    DocTypeCode, "doc type code", check_doc_type
);

fn check_doc_id(text: &str) -> Result<(), String> {
    let len = text.len();
    if len == 0 || len > limits::DOC_ID_CHARS_MAX {
        return Err(format!("must be 1 to {} characters", limits::DOC_ID_CHARS_MAX));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    if !text.chars().all(allowed) {
        return Err(format!("{text:?} may hold only ASCII letters, digits and - _ . /"));
    }
    Ok(())
}

validated_string!(
    /// The issuer's own id of a document (a roll number, a licence number). May hold dashes.
    DocId, "doc id", check_doc_id
);

fn check_username(text: &str) -> Result<(), String> {
    let len = text.len();
    if !(limits::USERNAME_CHARS_MIN..=limits::USERNAME_CHARS_MAX).contains(&len) {
        return Err(format!(
            "must be {} to {} characters",
            limits::USERNAME_CHARS_MIN,
            limits::USERNAME_CHARS_MAX
        ));
    }
    if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("{text:?} must start with a lowercase letter"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_';
    if !text.chars().all(allowed) {
        return Err(format!("{text:?} may hold only a-z, 0-9, . and _"));
    }
    Ok(())
}

validated_string!(
    /// A citizen's chosen login name.
    Username, "username", check_username
);

fn check_bounded_text(text: &str, max_chars: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if text.trim() != text {
        return Err(format!("{text:?} has leading or trailing white space"));
    }
    if text.chars().count() > max_chars {
        return Err(format!("longer than {max_chars} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("holds control characters".to_owned());
    }
    Ok(())
}

fn check_label(text: &str) -> Result<(), String> {
    check_bounded_text(text, limits::LABEL_CHARS_MAX)
}
fn check_reason(text: &str) -> Result<(), String> {
    check_bounded_text(text, limits::REASON_CHARS_MAX)
}
fn check_field_key(text: &str) -> Result<(), String> {
    check_bounded_text(text, limits::FIELD_KEY_CHARS_MAX)
}
fn check_field_value(text: &str) -> Result<(), String> {
    // A value may legitimately be empty ("remarks": ""), but never unbounded or binary.
    if text.chars().count() > limits::FIELD_VALUE_CHARS_MAX {
        return Err(format!("longer than {} characters", limits::FIELD_VALUE_CHARS_MAX));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err("holds control characters".to_owned());
    }
    Ok(())
}

validated_string!(
    /// A short human-readable name (of a document, a doc type, an organisation, a person).
    Label, "label", check_label
);
validated_string!(
    /// Free text explaining a decision (revocation reason, consent purpose).
    Reason, "reason", check_reason
);
validated_string!(
    /// The name of a structured document field, such as `Mathematics`.
    FieldKey, "field key", check_field_key
);
validated_string!(
    /// The value of a structured document field, such as `95`.
    FieldValue, "field value", check_field_value
);

fn check_endpoint(text: &str) -> Result<(), String> {
    if text.len() > limits::ENDPOINT_CHARS_MAX {
        return Err(format!("longer than {} characters", limits::ENDPOINT_CHARS_MAX));
    }
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} must start with https:// or http://"))?;
    if rest.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{text:?} is not a usable address"));
    }
    Ok(())
}

validated_string!(
    /// The address at which an issuer serves pull requests for its documents.
    Endpoint, "endpoint", check_endpoint
);

fn check_email(text: &str) -> Result<(), String> {
    if text.len() > limits::EMAIL_CHARS_MAX {
        return Err(format!("longer than {} characters", limits::EMAIL_CHARS_MAX));
    }
    let (local, domain) = text.split_once('@').ok_or_else(|| format!("{text:?} has no @"))?;
    let domain_ok = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    if local.is_empty() || !domain_ok || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{text:?} is not an email address"));
    }
    Ok(())
}

validated_string!(
    /// An email address (personal data: only ever sealed).
    Email, "email", check_email
);

/// An Indian mobile number: ten digits starting with 6, 7, 8 or 9. `parse` accepts `+91` or
/// `91` or `0` in front and spaces; the stored form is the bare ten digits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MobileNumber(String);

impl MobileNumber {
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let bare = digits
            .strip_prefix("+91")
            .or_else(|| (digits.len() == 12).then(|| digits.strip_prefix("91")).flatten())
            .or_else(|| (digits.len() == 11).then(|| digits.strip_prefix('0')).flatten())
            .unwrap_or(&digits);
        let valid = bare.len() == 10
            && bare.bytes().all(|b| b.is_ascii_digit())
            && matches!(bare.as_bytes().first(), Some(b'6'..=b'9'));
        if !valid {
            return Err(SchemaError::invalid(
                "mobile number",
                "must be 10 digits starting with 6, 7, 8 or 9 (optionally after +91)",
            ));
        }
        Ok(MobileNumber(bare.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `XXXXXX3210`: what a screen may show.
    pub fn masked(&self) -> String {
        format!("XXXXXX{}", &self.0[6..])
    }
}

impl TryFrom<String> for MobileNumber {
    type Error = SchemaError;
    fn try_from(text: String) -> Result<Self, SchemaError> {
        Self::parse(&text)
    }
}
impl From<MobileNumber> for String {
    fn from(value: MobileNumber) -> String {
        value.0
    }
}
impl fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug output ends up in logs; personal data must not.
        write!(f, "MobileNumber({})", self.masked())
    }
}

/// A 12-digit Aadhaar number with a valid Verhoeff check digit. Deliberately neither
/// `Serialize` nor `Display`: the number itself never enters the log or a log line; only an
/// [`AadhaarRef`] (keyed hash and last four digits) does.
#[derive(Clone, PartialEq, Eq)]
pub struct Aadhaar(String);

impl Aadhaar {
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SchemaError::invalid("aadhaar", "must be 12 digits"));
        }
        if digits.starts_with(['0', '1']) {
            return Err(SchemaError::invalid("aadhaar", "cannot start with 0 or 1"));
        }
        if !crate::verhoeff::is_valid(&digits) {
            return Err(SchemaError::invalid("aadhaar", "check digit (Verhoeff) does not match"));
        }
        Ok(Aadhaar(digits))
    }
    /// The digits, for computing the keyed hash. Callers must not log or store them.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }
    pub fn last4(&self) -> Last4 {
        Last4(self.0[8..].to_owned())
    }
}

impl fmt::Debug for Aadhaar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aadhaar(XXXX-XXXX-{})", &self.0[8..])
    }
}

fn check_last4(text: &str) -> Result<(), String> {
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} must be exactly 4 digits"));
    }
    Ok(())
}

validated_string!(
    /// The last four digits of an Aadhaar number, which DigiLocker shows the citizen.
    Last4, "aadhaar last four digits", check_last4
);

/// A locker id: a UUID in its 36-character hyphenated form, as DigiLocker's ids are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockerId(pub [u8; 16]);

impl LockerId {
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        if text.len() != 36 {
            return Err(SchemaError::invalid(
                "locker id",
                format!("{text:?} must be a 36-character UUID"),
            ));
        }
        let uuid = uuid::Uuid::try_parse(text)
            .map_err(|e| SchemaError::invalid("locker id", format!("{text:?}: {e}")))?;
        Ok(LockerId(*uuid.as_bytes()))
    }
    /// A version-4 UUID from 16 random bytes supplied by the caller's (seeded) RNG.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        LockerId(*uuid::Builder::from_random_bytes(bytes).into_uuid().as_bytes())
    }
}

impl fmt::Display for LockerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        uuid::Uuid::from_bytes(self.0).hyphenated().fmt(f)
    }
}
impl fmt::Debug for LockerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockerId({self})")
    }
}
impl FromStr for LockerId {
    type Err = SchemaError;
    fn from_str(text: &str) -> Result<Self, SchemaError> {
        Self::parse(text)
    }
}

impl Serialize for LockerId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            crate::bytes::serialize_fixed(&self.0, serializer)
        }
    }
}
impl<'de> Deserialize<'de> for LockerId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            LockerId::parse(&text).map_err(serde::de::Error::custom)
        } else {
            crate::bytes::deserialize_fixed::<D, 16>(deserializer).map(LockerId)
        }
    }
}

/// A document URI, `IssuerId-DocType-DocId`, split on the first two dashes only since the doc
/// id may hold dashes: `in.gov.cbse-HSCER-2024-1234567`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocUri {
    issuer: IssuerId,
    doc_type: DocTypeCode,
    doc_id: DocId,
}

impl DocUri {
    pub fn new(issuer: IssuerId, doc_type: DocTypeCode, doc_id: DocId) -> Self {
        DocUri { issuer, doc_type, doc_id }
    }
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        let mut parts = text.splitn(3, '-');
        let (Some(issuer), Some(doc_type), Some(doc_id)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(SchemaError::invalid(
                "document URI",
                format!("{text:?} must look like IssuerId-DocType-DocId"),
            ));
        };
        let wrap = |e: SchemaError| SchemaError::invalid("document URI", format!("{text:?}: {e}"));
        Ok(DocUri {
            issuer: IssuerId::parse(issuer).map_err(wrap)?,
            doc_type: DocTypeCode::parse(doc_type).map_err(wrap)?,
            doc_id: DocId::parse(doc_id).map_err(wrap)?,
        })
    }
    pub fn issuer(&self) -> &IssuerId {
        &self.issuer
    }
    pub fn doc_type(&self) -> &DocTypeCode {
        &self.doc_type
    }
    pub fn doc_id(&self) -> &DocId {
        &self.doc_id
    }
}

impl fmt::Display for DocUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.issuer, self.doc_type, self.doc_id)
    }
}
impl fmt::Debug for DocUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocUri({self})")
    }
}
impl FromStr for DocUri {
    type Err = SchemaError;
    fn from_str(text: &str) -> Result<Self, SchemaError> {
        Self::parse(text)
    }
}
impl TryFrom<String> for DocUri {
    type Error = SchemaError;
    fn try_from(text: String) -> Result<Self, SchemaError> {
        Self::parse(&text)
    }
}
impl From<DocUri> for String {
    fn from(value: DocUri) -> String {
        value.to_string()
    }
}

/// Milliseconds since the Unix epoch, UTC. Always supplied by an injected clock.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimestampMs(pub i64);

/// A calendar date (issue date, validity, date of birth): `YYYY-MM-DD` in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CivilDate(chrono::NaiveDate);

impl CivilDate {
    pub fn parse(text: &str) -> Result<Self, SchemaError> {
        // Every stored document decodes its dates: plain `YYYY-MM-DD` skips chrono's
        // format interpreter; anything else gets chrono's full parse (and its error).
        let bytes = text.as_bytes();
        if bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        {
            let number = |range: std::ops::Range<usize>| {
                bytes[range].iter().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'))
            };
            if let Some(date) = i32::try_from(number(0..4))
                .ok()
                .and_then(|year| chrono::NaiveDate::from_ymd_opt(year, number(5..7), number(8..10)))
            {
                return Ok(CivilDate(date));
            }
        }
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(CivilDate)
            .map_err(|e| SchemaError::invalid("date", format!("{text:?} is not YYYY-MM-DD: {e}")))
    }
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Self, SchemaError> {
        chrono::NaiveDate::from_ymd_opt(year, month, day)
            .map(CivilDate)
            .ok_or_else(|| SchemaError::invalid("date", format!("{year}-{month}-{day}")))
    }
    pub fn as_naive(&self) -> chrono::NaiveDate {
        self.0
    }
}
impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::Datelike;
        // chrono's strftime interpreter is slow on a hot path (every listed document); for
        // years 0..=9999 this prints exactly what `%Y-%m-%d` prints.
        let (year, month, day) = (self.0.year(), self.0.month(), self.0.day());
        if (0..=9999).contains(&year) {
            write!(f, "{year:04}-{month:02}-{day:02}")
        } else {
            write!(f, "{}", self.0.format("%Y-%m-%d"))
        }
    }
}
impl fmt::Debug for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CivilDate({self})")
    }
}
impl TryFrom<String> for CivilDate {
    type Error = SchemaError;
    fn try_from(text: String) -> Result<Self, SchemaError> {
        Self::parse(&text)
    }
}
impl From<CivilDate> for String {
    fn from(value: CivilDate) -> String {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_splits_on_the_first_two_dashes_only() {
        let uri = DocUri::parse("in.gov.cbse-HSCER-2024-12-345").expect("valid uri");
        assert_eq!(uri.issuer().as_str(), "in.gov.cbse");
        assert_eq!(uri.doc_type().as_str(), "HSCER");
        assert_eq!(uri.doc_id().as_str(), "2024-12-345");
        assert_eq!(uri.to_string(), "in.gov.cbse-HSCER-2024-12-345");
    }

    #[test]
    fn uri_rejections_name_the_bad_part() {
        for bad in ["in.gov.cbse-HSCER", "in.gov.cbse-hscer-1", "IN.gov-HSCER-1", "a-HSCER-1", ""] {
            let err = DocUri::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("document URI"), "{err}");
        }
    }

    #[test]
    fn org_ids_refuse_dashes_and_capitals() {
        assert!(IssuerId::parse("in.gov.cbse").is_ok());
        assert!(IssuerId::parse("in.gov.transport.mh").is_ok());
        for bad in ["in-gov", "In.gov", "in..gov", ".in", "in.", "ab", "in.9ov"] {
            assert!(IssuerId::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn mobile_numbers_normalise_and_mask() {
        for ok in ["9876543210", "+91 98765 43210", "919876543210", "09876543210"] {
            let mobile = MobileNumber::parse(ok).expect(ok);
            assert_eq!(mobile.as_str(), "9876543210");
            assert_eq!(mobile.masked(), "XXXXXX3210");
            assert!(!format!("{mobile:?}").contains("98765"));
        }
        for bad in ["5876543210", "987654321", "98765432100", "98765abcde", "+1 9876543210"] {
            assert!(MobileNumber::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn aadhaar_needs_twelve_digits_and_its_check_digit() {
        // 4991 1866 5246 has a valid Verhoeff check digit (see verhoeff tests).
        let aadhaar = Aadhaar::parse("4991 1866 5246").expect("valid aadhaar");
        assert_eq!(aadhaar.last4().as_str(), "5246");
        assert!(!format!("{aadhaar:?}").contains("4991"));
        let err = Aadhaar::parse("499118665247").expect_err("wrong check digit");
        assert!(err.to_string().contains("Verhoeff"), "{err}");
        assert!(Aadhaar::parse("099118665246").is_err());
        assert!(Aadhaar::parse("49911866524").is_err());
    }

    #[test]
    fn locker_ids_are_36_character_uuids() {
        let id = LockerId::from_random_bytes([7; 16]);
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(LockerId::parse(&text).expect("round trip"), id);
        assert!(LockerId::parse("07070707070747078707070707070707").is_err());
        assert!(LockerId::parse("not-a-uuid-at-all-not-a-uuid-at-all").is_err());
    }

    #[test]
    fn labels_refuse_blank_padded_long_and_control_text() {
        assert!(Label::parse("Class XII Marksheet").is_ok());
        for bad in ["", "  ", " padded", "tab\there", &"x".repeat(201)] {
            assert!(Label::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn usernames_and_doc_types() {
        assert!(Username::parse("asha.k_92").is_ok());
        assert!(Username::parse("9asha").is_err());
        assert!(Username::parse("As").is_err());
        assert!(DocTypeCode::parse("DRVLC").is_ok());
        assert!(DocTypeCode::parse("DRVL").is_err());
        assert!(DocTypeCode::parse("drvlc").is_err());
    }

    #[test]
    fn dates_and_emails() {
        // The fast paths print and read exactly what chrono's `%Y-%m-%d` does.
        let mut day = chrono::NaiveDate::from_ymd_opt(1899, 12, 25).expect("date");
        for _ in 0..60_000 {
            let text = day.format("%Y-%m-%d").to_string();
            assert_eq!(CivilDate(day).to_string(), text);
            assert_eq!(CivilDate::parse(&text).expect("parse").0, day);
            day = day.succ_opt().expect("next day");
        }
        for bad in ["2024-05-1x", "20240513", "2024-13-01", "2023-02-29", ""] {
            assert!(CivilDate::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(CivilDate::parse("2024-05-13").expect("date").to_string(), "2024-05-13");
        assert!(CivilDate::parse("2024-02-30").is_err());
        assert!(Email::parse("asha@example.in").is_ok());
        assert!(Email::parse("asha@example").is_err());
        assert!(Endpoint::parse("https://cbse.gov.in/pull").is_ok());
        assert!(Endpoint::parse("ftp://cbse.gov.in").is_err());
    }
}
