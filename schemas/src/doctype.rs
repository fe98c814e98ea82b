//! What an issuer declares about one of its doc types (issue 21): the fields a document of the
//! type carries, and how a citizen pulls one (the identifiers to give, the issuer's endpoint);
//! and the record of a pull. The rules here are pure: the service applies them to pushes,
//! bulk rows and pull answers before anything is sealed, and to a citizen's pull form.

use serde::{Deserialize, Serialize};

use crate::SchemaError;
use crate::ids::{
    CivilDate, DocTypeCode, DocUri, Endpoint, FieldKey, FieldValue, IssuerId, Label, LockerId,
};
use crate::limits;
use crate::personal::DocumentField;

/// What a field's value may be.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Any text of at most this many characters.
    Text { max_chars: u32 },
    /// A whole number in `min..=max` (marks of 0 to 100), written in decimal.
    Integer { min: i64, max: i64 },
    /// One of these values, exactly (a subject code, PASS or FAIL).
    Choice { values: Vec<FieldValue> },
    /// A date, `YYYY-MM-DD`.
    Date,
}

/// One declared field: a document's field, or an identifier a citizen gives to pull one.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub key: FieldKey,
    /// What a person is shown ("Roll number").
    pub label: Label,
    pub kind: FieldKind,
    pub required: bool,
}

/// How a citizen pulls a document of this type from its issuer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSpec {
    /// Where the platform sends a signed pull request (RFC 9421).
    pub endpoint: Endpoint,
    /// What the citizen gives (roll number, year, date of birth).
    pub identifiers: Vec<FieldSpec>,
}

/// An issuer declares one of its registered doc types. A later declaration of the same type
/// replaces the earlier one; old events are not changed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocTypeDeclared {
    pub issuer: IssuerId,
    pub doc_type: DocTypeCode,
    /// Every field a document of this type may carry. Empty: the type's fields are not
    /// declared, and any are taken. Otherwise a field not declared, a required one missing,
    /// or a value outside its kind is refused.
    pub fields: Vec<FieldSpec>,
    /// Absent: documents of this type are only pushed.
    pub pull: Option<PullSpec>,
}

/// What became of a citizen's pull.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullOutcome {
    /// The issuer issued the document (now, or before: the URI is in the locker).
    Issued(DocUri),
    Refused(PullRefusal),
}

/// Why a pull gave no document.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullRefusal {
    /// The issuer has no record for these identifiers.
    NoRecord,
    /// The record's name is not the citizen's.
    NameMismatch,
    /// The issuer cannot answer now (results withheld, maintenance).
    TryLater,
    /// The issuer's endpoint did not answer, after retries.
    IssuerUnavailable,
    /// The issuer answered with a document the platform refused.
    InvalidAnswer,
}

impl PullRefusal {
    pub fn code(self) -> &'static str {
        match self {
            PullRefusal::NoRecord => "no_record",
            PullRefusal::NameMismatch => "name_mismatch",
            PullRefusal::TryLater => "try_later",
            PullRefusal::IssuerUnavailable => "issuer_unavailable",
            PullRefusal::InvalidAnswer => "invalid_answer",
        }
    }
}

/// A citizen pulled (or tried to pull) a document: signed by the citizen, in the locker's
/// partition, so every pull is in the locker's history. The identifiers given are not here
/// (they are personal data the issuer already holds).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentPulled {
    pub locker: LockerId,
    pub issuer: IssuerId,
    pub doc_type: DocTypeCode,
    pub outcome: PullOutcome,
}

/// A field that breaks its declaration: which, and how.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("field {field:?}: {reason}")]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

impl FieldKind {
    /// Whether `value` is of this kind.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self {
            FieldKind::Text { max_chars } => {
                let chars = value.chars().count();
                if chars > *max_chars as usize {
                    return Err(format!("{chars} characters, at most {max_chars} allowed"));
                }
                Ok(())
            }
            FieldKind::Integer { min, max } => match value.parse::<i64>() {
                Ok(n) if (*min..=*max).contains(&n) => Ok(()),
                Ok(n) => Err(format!("{n} is outside {min} to {max}")),
                Err(_) => Err(format!("{value:?} is not a whole number")),
            },
            FieldKind::Choice { values } => {
                if values.iter().any(|v| v.as_str() == value) {
                    return Ok(());
                }
                let allowed: Vec<&str> = values.iter().map(FieldValue::as_str).collect();
                Err(format!("{value:?} is not one of {}", allowed.join(", ")))
            }
            FieldKind::Date => CivilDate::parse(value)
                .map(|_| ())
                .map_err(|_| format!("{value:?} is not a date (YYYY-MM-DD)")),
        }
    }
}

/// Checks `given` (key and value pairs) against `specs`: each given key declared once and of
/// its kind, each required one given. Empty `specs` declare nothing and take anything.
pub fn check_declared<'a>(
    specs: &[FieldSpec],
    given: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), FieldProblem> {
    if specs.is_empty() {
        return Ok(());
    }
    let problem = |field: &str, reason: String| FieldProblem { field: field.to_owned(), reason };
    let mut seen = Vec::with_capacity(specs.len());
    for (key, value) in given {
        let Some(spec) = specs.iter().find(|s| s.key.as_str() == key) else {
            return Err(problem(key, "is not a declared field of this doc type".to_owned()));
        };
        if seen.contains(&key) {
            return Err(problem(key, "is given twice".to_owned()));
        }
        seen.push(key);
        spec.kind.check(value).map_err(|reason| problem(key, reason))?;
    }
    match specs.iter().find(|s| s.required && !seen.contains(&s.key.as_str())) {
        Some(missing) => Err(problem(missing.key.as_str(), "is required".to_owned())),
        None => Ok(()),
    }
}

/// `check_declared` for a document's structured fields.
pub fn check_document_fields(
    declared: &DocTypeDeclared,
    fields: &[DocumentField],
) -> Result<(), FieldProblem> {
    check_declared(&declared.fields, fields.iter().map(|f| (f.key.as_str(), f.value.as_str())))
}

impl DocTypeDeclared {
    /// The rules a declaration itself must keep.
    pub fn validate(&self) -> Result<(), SchemaError> {
        check_specs("fields", &self.fields, limits::DOCUMENT_FIELDS_MAX)?;
        if let Some(pull) = &self.pull {
            if pull.identifiers.is_empty() {
                return Err(SchemaError::InvalidEvent(
                    "a pull asks the citizen for at least one identifier".to_owned(),
                ));
            }
            check_specs("identifiers", &pull.identifiers, limits::PULL_IDENTIFIERS_MAX)?;
        }
        Ok(())
    }
}

fn check_specs(what: &str, specs: &[FieldSpec], max: usize) -> Result<(), SchemaError> {
    let bad = |reason: String| Err(SchemaError::InvalidEvent(format!("{what}: {reason}")));
    if specs.len() > max {
        return bad(format!("at most {max}, not {}", specs.len()));
    }
    let mut keys: Vec<&str> = specs.iter().map(|s| s.key.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|pair| pair[0] == pair[1]) {
        return bad("a key is declared twice".to_owned());
    }
    for spec in specs {
        match &spec.kind {
            FieldKind::Text { max_chars }
                if *max_chars == 0 || *max_chars as usize > limits::FIELD_VALUE_CHARS_MAX =>
            {
                return bad(format!(
                    "{}: a text is 1 to {} characters long",
                    spec.key,
                    limits::FIELD_VALUE_CHARS_MAX
                ));
            }
            FieldKind::Integer { min, max } if min > max => {
                return bad(format!("{}: min {min} is above max {max}", spec.key));
            }
            FieldKind::Choice { values }
                if values.is_empty() || values.len() > limits::FIELD_CHOICES_MAX =>
            {
                return bad(format!(
                    "{}: a choice has 1 to {} values",
                    spec.key,
                    limits::FIELD_CHOICES_MAX
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(key: &str, kind: FieldKind, required: bool) -> FieldSpec {
        FieldSpec {
            key: FieldKey::parse(key).expect("test value"),
            label: Label::parse(key).expect("test value"),
            kind,
            required,
        }
    }

    fn marksheet() -> Vec<FieldSpec> {
        let choice = |values: &[&str]| FieldKind::Choice {
            values: values.iter().map(|v| FieldValue::parse(v).expect("test value")).collect(),
        };
        vec![
            spec("maths", FieldKind::Integer { min: 0, max: 100 }, true),
            spec("result", choice(&["PASS", "FAIL"]), true),
            spec("remarks", FieldKind::Text { max_chars: 10 }, false),
            spec("dob", FieldKind::Date, false),
        ]
    }

    #[test]
    fn a_document_keeps_to_its_declaration() {
        let specs = marksheet();
        let ok = [("maths", "100"), ("result", "PASS"), ("dob", "2006-02-28")];
        assert_eq!(check_declared(&specs, ok), Ok(()));
        let refused = |given: &[(&str, &str)]| check_declared(&specs, given.iter().copied());
        let problem = refused(&[("maths", "101"), ("result", "PASS")]).expect_err("refused");
        assert_eq!(problem.field, "maths");
        assert!(problem.reason.contains("outside 0 to 100"), "{problem}");
        assert_eq!(
            refused(&[("maths", "9x"), ("result", "PASS")]).expect_err("refused").field,
            "maths"
        );
        let problem = refused(&[("maths", "50"), ("result", "DISTINCTION")]).expect_err("refused");
        assert!(problem.reason.contains("not one of PASS, FAIL"), "{problem}");
        let problem =
            refused(&[("maths", "50"), ("result", "PASS"), ("phy", "1")]).expect_err("refused");
        assert_eq!(problem.field, "phy");
        assert_eq!(refused(&[("result", "PASS")]).expect_err("refused").reason, "is required");
        let twice = refused(&[("maths", "1"), ("maths", "2"), ("result", "PASS")]);
        assert_eq!(twice.expect_err("refused").reason, "is given twice");
        let long = refused(&[("maths", "1"), ("result", "PASS"), ("remarks", "elevenchars")]);
        assert_eq!(long.expect_err("refused").field, "remarks");
        let date = refused(&[("maths", "1"), ("result", "PASS"), ("dob", "2006-02-30")]);
        assert_eq!(date.expect_err("refused").field, "dob");
    }

    #[test]
    fn nothing_declared_takes_anything() {
        assert_eq!(check_declared(&[], [("anything", "at all")]), Ok(()));
    }

    #[test]
    fn declarations_keep_their_own_rules() {
        let declared = |fields: Vec<FieldSpec>, pull: Option<PullSpec>| DocTypeDeclared {
            issuer: IssuerId::parse("in.gov.cbse").expect("test value"),
            doc_type: DocTypeCode::parse("HSCER").expect("test value"),
            fields,
            pull,
        };
        assert!(declared(marksheet(), None).validate().is_ok());
        let twice = vec![spec("a", FieldKind::Date, true), spec("a", FieldKind::Date, false)];
        assert!(declared(twice, None).validate().is_err());
        let upside = vec![spec("a", FieldKind::Integer { min: 5, max: 1 }, true)];
        assert!(declared(upside, None).validate().is_err());
        let empty = vec![spec("a", FieldKind::Choice { values: vec![] }, true)];
        assert!(declared(empty, None).validate().is_err());
        let endpoint = Endpoint::parse("http://127.0.0.1:9000/pull").expect("test value");
        let no_ids = PullSpec { endpoint, identifiers: vec![] };
        assert!(declared(vec![], Some(no_ids)).validate().is_err());
    }
}
