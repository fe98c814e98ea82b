//! Exact JSON Schemas of what clients send in the catalogue's JSON form: the signed events
//! (per door, only the kinds that door takes), their personal fields and the patterns of every
//! identifier. A request these schemas call valid is one `schemas` decodes: what the service
//! refuses after that (a signature, a clock window, a commitment) is a 401, 403, 404, 409 or
//! 422, never a 400. The patterns are built from `schemas::limits`; `scripts/schemathesis`
//! checks every golden fixture against them with an independent validator (Python's
//! `jsonschema`), and schemathesis checks the service against them.
//!
//! Written out here rather than derived: the catalogue's types serialize through hand-written
//! `serde` forms (hex bytes, validated strings, UUIDs) that a derive would not see.

use schemas::limits as l;
use serde_json::{Value, json};
use utoipa::openapi::{RefOr, Schema};

/// Control characters (`char::is_control`: Unicode category Cc).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// What `str::trim` removes (Unicode White_Space), spelled out so every regex engine agrees.
const WHITE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

pub(crate) fn hex(bytes: usize) -> Value {
    json!({"type": "string", "pattern": format!("^[0-9a-fA-F]{{{}}}$", bytes * 2)})
}

pub(crate) fn uuid() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"})
}

/// Issuer and requester ids: dot-separated segments of a-z and 0-9, each starting with a
/// letter (`check_org_id`).
pub(crate) fn org_id() -> Value {
    json!({
        "type": "string",
        "pattern": "^[a-z](?:[a-z0-9]|\\.[a-z])*$",
        "minLength": l::ORG_ID_CHARS_MIN,
        "maxLength": l::ORG_ID_CHARS_MAX,
    })
}

pub(crate) fn doc_type() -> Value {
    json!({"type": "string", "pattern": "^[A-Z0-9]{5}$"})
}

/// `IssuerId-DocType-DocId`. One string cannot carry the issuer's own length bounds, so the
/// issuer part is written with bounded repetition (3 to 63 characters): every URI this pattern
/// matches is valid; URIs of 64-character issuers are valid but outside the pattern.
pub(crate) fn doc_uri() -> Value {
    json!({"type": "string", "pattern": doc_uri_pattern()})
}

fn doc_uri_pattern() -> String {
    format!(
        "^[a-z](?:[a-z0-9]|\\.[a-z]){{2,31}}-[A-Z0-9]{{5}}-[A-Za-z0-9._/-]{{1,{}}}$",
        l::DOC_ID_CHARS_MAX
    )
}

/// Schemas of `String` fields that hold a document URI.
macro_rules! string_schema {
    ($name:ident, $pattern:expr) => {
        pub(crate) struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, Type};
                ObjectBuilder::new().schema_type(Type::String).pattern(Some($pattern)).into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}
string_schema!(UriString, doc_uri_pattern());

/// Free text (`check_bounded_text`): 1 to `max` characters, no control characters, nothing
/// trimmable at either end.
pub(crate) fn bounded_text(max_chars: usize) -> Value {
    json!({
        "type": "string",
        "pattern": format!(
            "^[^{WHITE}{CONTROL}](?:[^{CONTROL}]{{0,{}}}[^{WHITE}{CONTROL}])?$",
            max_chars - 2
        ),
    })
}

fn field_value() -> Value {
    json!({
        "type": "string",
        "pattern": format!("^[^\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f]{{0,{}}}$", l::FIELD_VALUE_CHARS_MAX),
    })
}

pub(crate) fn date() -> Value {
    json!({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})
}

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [{"type": "null"}, schema]})
}

fn int_range(min: i128, max: i128) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

fn i64_any() -> Value {
    int_range(i64::MIN.into(), i64::MAX.into())
}

fn u32_any() -> Value {
    int_range(0, u32::MAX.into())
}

fn string_enum(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// An object with exactly these properties, `required` among them (serde's
/// `deny_unknown_fields`; an `Option` may be left out).
fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

/// serde's externally tagged enum variant: `{"name": value}`.
fn variant(name: &str, value: Value) -> Value {
    object(json!({ name: value }), &[name])
}

fn one_of(variants: Vec<Value>) -> Value {
    json!({"oneOf": variants})
}

fn public_key_entry() -> Value {
    object(json!({"key_id": hex(16), "public_key": hex(32)}), &["key_id", "public_key"])
}

fn aadhaar_ref() -> Value {
    object(
        json!({"keyed_hash": hex(32), "last4": {"type": "string", "pattern": "^[0-9]{4}$"}}),
        &["keyed_hash", "last4"],
    )
}

fn recipient() -> Value {
    one_of(vec![variant("locker", uuid()), variant("aadhaar", aadhaar_ref())])
}

fn content_ref() -> Value {
    object(
        json!({
            "hash": hex(32),
            "media_type": {"type": "string", "enum": schemas::MediaType::ALL},
            "size_bytes": int_range(0, l::DOCUMENT_SIZE_BYTES_MAX.into()),
        }),
        &["hash", "media_type", "size_bytes"],
    )
}

fn doc_ref() -> Value {
    one_of(vec![variant("issued", doc_uri()), variant("uploaded", hex(16))])
}

fn label() -> Value {
    bounded_text(l::LABEL_CHARS_MAX)
}

fn reason() -> Value {
    bounded_text(l::REASON_CHARS_MAX)
}

fn document_issued() -> Value {
    object(
        json!({
            "uri": doc_uri(), "recipient": recipient(), "name": label(), "issued_on": date(),
            "valid_from": nullable(date()), "valid_to": nullable(date()),
            "content": content_ref(), "personal": nullable(hex(32)),
        }),
        &["uri", "recipient", "name", "issued_on", "content"],
    )
}

fn document_updated() -> Value {
    object(
        json!({
            "uri": doc_uri(), "recipient": recipient(), "name": label(),
            "valid_from": nullable(date()), "valid_to": nullable(date()),
            "content": content_ref(), "personal": nullable(hex(32)),
        }),
        &["uri", "recipient", "name", "content"],
    )
}

fn document_revoked() -> Value {
    object(
        json!({
            "uri": doc_uri(), "recipient": recipient(),
            "reason": string_enum(&["issued_in_error", "superseded", "cancelled", "fraud", "other"]),
            "detail": nullable(reason()),
        }),
        &["uri", "recipient", "reason"],
    )
}

fn principal() -> Value {
    one_of(vec![
        string_enum(&["platform"]),
        variant("issuer", org_id()),
        variant("requester", org_id()),
        variant("citizen", uuid()),
    ])
}

fn organisation() -> Value {
    one_of(vec![variant("issuer", org_id()), variant("requester", org_id())])
}

fn keys() -> Value {
    json!({"type": "array", "items": public_key_entry(), "maxItems": l::PRINCIPAL_KEYS_MAX})
}

fn directory_payload() -> Value {
    let doc_types = json!({
        "type": "array",
        "maxItems": l::ISSUER_DOC_TYPES_MAX,
        "items": object(json!({"code": doc_type(), "name": label()}), &["code", "name"]),
    });
    let kinds = [
        "government_department",
        "bank",
        "telco",
        "insurer",
        "employer",
        "educational_institution",
        "other",
    ];
    let endpoint = json!({"type": "string", "pattern": "^https?://[!-~]{1,500}$"});
    one_of(vec![
        variant(
            "issuer_registered",
            object(
                json!({"issuer": org_id(), "name": label(), "doc_types": doc_types, "keys": keys(), "endpoint": nullable(endpoint)}),
                &["issuer", "name", "doc_types", "keys"],
            ),
        ),
        variant(
            "requester_registered",
            object(
                json!({"requester": org_id(), "name": label(), "kind": string_enum(&kinds), "keys": keys()}),
                &["requester", "name", "kind", "keys"],
            ),
        ),
        variant(
            "key_rotated",
            object(
                json!({"owner": principal(), "new_key": public_key_entry(), "retired_key_id": nullable(hex(16))}),
                &["owner", "new_key"],
            ),
        ),
        variant(
            "key_revoked",
            object(
                json!({"owner": principal(), "key_id": hex(16), "reason": reason()}),
                &["owner", "key_id", "reason"],
            ),
        ),
        variant(
            "organisation_suspended",
            object(
                json!({"organisation": organisation(), "reason": reason()}),
                &["organisation", "reason"],
            ),
        ),
        variant(
            "organisation_reinstated",
            object(json!({"organisation": organisation()}), &["organisation"]),
        ),
    ])
}

fn consent_requested() -> Value {
    let item = one_of(vec![
        variant(
            "doc_type",
            object(json!({"issuer": org_id(), "doc_type": doc_type()}), &["issuer", "doc_type"]),
        ),
        variant("document", doc_uri()),
    ]);
    let purposes = [
        "know_your_customer",
        "account_opening",
        "employment",
        "admission",
        "passport_verification",
        "loan_application",
        "other",
    ];
    object(
        json!({
            "consent_id": hex(16), "requester": org_id(), "locker": uuid(),
            "items": {"type": "array", "items": item, "maxItems": l::CONSENT_ITEMS_MAX},
            "purpose": object(json!({"code": string_enum(&purposes), "text": reason()}), &["code", "text"]),
            "expires_at_ms": i64_any(),
        }),
        &["consent_id", "requester", "locker", "items", "purpose", "expires_at_ms"],
    )
}

fn document_accessed() -> Value {
    object(
        json!({
            "consent_id": hex(16), "requester": org_id(), "locker": uuid(),
            "document": doc_ref(), "content_hash": hex(32),
        }),
        &["consent_id", "requester", "locker", "document", "content_hash"],
    )
}

/// A declared field or identifier (`schemas::FieldSpec`).
fn field_spec() -> Value {
    let kind = one_of(vec![
        variant(
            "text",
            object(
                json!({"max_chars": int_range(1, l::FIELD_VALUE_CHARS_MAX as i128)}),
                &["max_chars"],
            ),
        ),
        variant("integer", object(json!({"min": i64_any(), "max": i64_any()}), &["min", "max"])),
        variant(
            "choice",
            object(
                json!({"values": {"type": "array", "items": field_value(), "minItems": 1, "maxItems": l::FIELD_CHOICES_MAX}}),
                &["values"],
            ),
        ),
        string_enum(&["date"]),
    ]);
    object(
        json!({"key": bounded_text(l::FIELD_KEY_CHARS_MAX), "label": label(), "kind": kind, "required": {"type": "boolean"}}),
        &["key", "label", "kind", "required"],
    )
}

/// `DocTypeDeclared`: the rules across items (keys unique, min below max) are the service's.
fn doc_type_declared() -> Value {
    let endpoint = json!({"type": "string", "pattern": "^https?://[!-~]{1,500}$"});
    let identifiers = json!({"type": "array", "items": field_spec(), "minItems": 1, "maxItems": l::PULL_IDENTIFIERS_MAX});
    let pull = object(
        json!({"endpoint": endpoint, "identifiers": identifiers}),
        &["endpoint", "identifiers"],
    );
    let fields =
        json!({"type": "array", "items": field_spec(), "maxItems": l::DOCUMENT_FIELDS_MAX});
    object(
        json!({"issuer": org_id(), "doc_type": doc_type(), "fields": fields, "pull": nullable(pull)}),
        &["issuer", "doc_type", "fields"],
    )
}

/// A signed event by `actor` carrying `payload`: nothing sealed (the service seals).
fn envelope(actor: Value, payload: Value) -> Value {
    let batch = object(
        json!({
            "index": u32_any(), "size": u32_any(),
            "path": {"type": "array", "items": hex(32), "maxItems": l::BATCH_PATH_HASHES_MAX},
        }),
        &["index", "size", "path"],
    );
    let event = object(
        json!({
            "id": hex(16), "occurred_at_ms": i64_any(), "actor": actor,
            "key_id": hex(16), "payload": payload,
        }),
        &["id", "occurred_at_ms", "actor", "key_id", "payload"],
    );
    object(
        json!({"event": event, "signature": hex(64), "sealed": {"type": "null"}, "batch": batch}),
        &["event", "signature"],
    )
}

/// The personal fields of a document (`PersonalData::Document`).
fn document_personal() -> Value {
    let field = object(
        json!({"key": bounded_text(l::FIELD_KEY_CHARS_MAX), "value": field_value()}),
        &["key", "value"],
    );
    let document = object(
        json!({
            "holder_name": label(), "date_of_birth": nullable(date()),
            "fields": {"type": "array", "items": field, "maxItems": l::DOCUMENT_FIELDS_MAX},
        }),
        &["holder_name", "fields"],
    );
    object(json!({"salt": hex(32), "data": variant("document", document)}), &["salt", "data"])
}

/// Standard base64 with padding, as the service decodes it: the last symbol before padding
/// carries no stray bits.
const BASE64: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

/// A document named by exactly one of `uri` and `upload_id` (a rule across two fields, which
/// the derived schema cannot state), with `extra` properties beside.
fn document_selector(extra: &Value) -> Value {
    let named = |present: &str, schema: Value, absent: &str| {
        let mut properties = json!({ present: schema, absent: {"type": "null"} });
        for (key, value) in extra.as_object().into_iter().flatten() {
            properties[key] = value.clone();
        }
        object(properties, &[present])
    };
    one_of(vec![named("uri", doc_uri(), "upload_id"), named("upload_id", hex(16), "uri")])
}

/// The named schemas this module adds to the document's components (replacing derived ones of
/// the same name).
pub(crate) fn components() -> Vec<(&'static str, Value)> {
    let document_payload = one_of(vec![
        variant("document_issued", document_issued()),
        variant("document_updated", document_updated()),
        variant("document_revoked", document_revoked()),
    ]);
    let issuer = variant("issuer", org_id());
    let issuer_actor = issuer.clone();
    let platform = string_enum(&["platform"]);
    let requester = variant("requester", org_id());
    let personal = nullable(json!({"$ref": "#/components/schemas/DocumentPersonal"}));
    let mut row = object(
        json!({
            "envelope": envelope(issuer.clone(), variant("document_issued", document_issued())),
            "personal": personal,
        }),
        &["envelope"],
    );
    row["description"] = json!(
        "One row of a bulk batch: a signed `document_issued` event and its personal fields; no content."
    );
    let minutes = nullable(int_range(1, crate::limits::SHARE_MINUTES_MAX.into()));
    vec![
        ("DocumentSelector", document_selector(&json!({}))),
        ("ShareBody", document_selector(&json!({ "expires_in_minutes": minutes }))),
        ("DocumentPersonal", document_personal()),
        ("DocumentEnvelope", envelope(issuer, document_payload)),
        ("BatchRow", row),
        ("DirectoryEnvelope", envelope(platform, directory_payload())),
        (
            "DocTypeDeclaredEnvelope",
            envelope(issuer_actor.clone(), variant("doc_type_declared", doc_type_declared())),
        ),
        (
            "ConsentRequestedEnvelope",
            envelope(requester.clone(), variant("consent_requested", consent_requested())),
        ),
        (
            "DocumentAccessedEnvelope",
            envelope(requester, variant("document_accessed", document_accessed())),
        ),
    ]
}

/// A reference to one of `components()`.
pub(crate) fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

fn nullable_reference(name: &str) -> RefOr<Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .item(reference(name))
        .into()
}

pub(crate) fn document_envelope() -> RefOr<Schema> {
    reference("DocumentEnvelope")
}
pub(crate) fn document_personal_or_null() -> RefOr<Schema> {
    nullable_reference("DocumentPersonal")
}
/// The document's bytes in base64, or null.
pub(crate) fn base64_or_null() -> RefOr<Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(BASE64))
        .into()
}

/// A bulk batch's rows, as schemathesis and readers see the NDJSON body: one array item per
/// line.
pub(crate) struct BatchRows;

impl utoipa::PartialSchema for BatchRows {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::ArrayBuilder;
        ArrayBuilder::new()
            .items(reference("BatchRow"))
            .min_items(Some(1))
            .max_items(Some(crate::limits::BULK_BATCH_ROWS_MAX))
            .into()
    }
}
impl utoipa::ToSchema for BatchRows {}

pub(crate) fn directory_envelope() -> RefOr<Schema> {
    reference("DirectoryEnvelope")
}
pub(crate) fn doc_type_declared_envelope() -> RefOr<Schema> {
    reference("DocTypeDeclaredEnvelope")
}
pub(crate) fn consent_requested_envelope() -> RefOr<Schema> {
    reference("ConsentRequestedEnvelope")
}
pub(crate) fn document_accessed_envelope() -> RefOr<Schema> {
    reference("DocumentAccessedEnvelope")
}

/// Adds `components()` to a served OpenAPI document (JSON), as they are: utoipa's typed
/// schema model would have to be trusted to carry every keyword through.
pub(crate) fn add_components(document: &mut Value) {
    for (name, schema) in components() {
        document["components"]["schemas"][name] = schema;
    }
}
