//! The OpenAPI 3.1 document's frame: title, security schemes, tags and the error shape. The
//! paths come from each handler's `#[utoipa::path]`, registered with its route in `app`.

pub(crate) mod event;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
pub use wire::dto::ErrorDto;

#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    info(
        title = "locker",
        description = "A digital document locker on a signed event ledger. Citizens log in with a session token; requesters sign every request (RFC 9421, Ed25519, keyid `<requester>:<key id>`, covering @method, @path, @query and content-digest); issuers and operators send events signed with their registered keys.",
    ),
    modifiers(&Security),
    components(schemas(ErrorDto)),
    tags(
        (name = "citizen", description = "A citizen's own locker, behind a session"),
        (name = "issuer", description = "Issuers push signed document events"),
        (name = "requester", description = "Requesters, authenticated by HTTP message signatures"),
        (name = "public", description = "Share links, open to whoever holds one"),
        (name = "directory", description = "Issuers, requesters and statistics"),
        (name = "operator", description = "Directory changes signed with the platform key"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The token from /v1/citizen/login or /v1/citizen/signup"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "http_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Signature",
                "RFC 9421 HTTP Message Signature (with Signature-Input and, for a body, Content-Digest)",
            ))),
        );
    }
}

/// A file's bytes as a request body.
pub(crate) struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}
impl utoipa::ToSchema for FileBytes {}

/// The document as served: utoipa's, with the catalogue's exact schemas added (`event`).
pub(crate) fn finish(document: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut document = serde_json::to_value(document)
        .unwrap_or_else(|e| unreachable!("an OpenAPI document serializes: {e}"));
    event::add_components(&mut document);
    document_malformed_requests(&mut document);
    document_content_types(&mut document);
    document
}

/// A document's bytes are served with their own media type (`Content-Type: application/pdf`),
/// so every `GET …/content` lists each type locker stores.
fn document_content_types(document: &mut serde_json::Value) {
    let binary = serde_json::json!({"schema": {"type": "string", "format": "binary"}});
    let content: serde_json::Map<String, serde_json::Value> = schemas::MediaType::ALL
        .iter()
        .map(|media| (media.mime().to_owned(), binary.clone()))
        .collect();
    let Some(paths) = document["paths"].as_object_mut() else { return };
    for (_, item) in paths.iter_mut().filter(|(path, _)| path.ends_with("/content")) {
        if let Some(ok) = item["get"]["responses"].get_mut("200") {
            ok["content"] = serde_json::Value::Object(content.clone());
        }
    }
}

/// Every operation that takes parameters or a body answers 400 to a request that breaks its
/// schema, and one that takes JSON answers 415 to a body of another type; said once here
/// rather than in each handler's annotation.
fn document_malformed_requests(document: &mut serde_json::Value) {
    let answer = serde_json::json!({
        "description": "Malformed request: it breaks this operation's schema (`invalid_json`, `invalid_query`, an id or URI of the wrong form)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDto"}}},
    });
    let not_json = serde_json::json!({
        "description": "`unsupported_media_type`: the body is not sent as `application/json`",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDto"}}},
    });
    let Some(paths) = document["paths"].as_object_mut() else { return };
    for operation in
        paths.values_mut().filter_map(|p| p.as_object_mut()).flat_map(|p| p.values_mut())
    {
        let takes_input = operation.get("requestBody").is_some()
            || operation["parameters"].as_array().is_some_and(|p| !p.is_empty());
        if takes_input && operation["responses"].get("400").is_none() {
            operation["responses"]["400"] = answer.clone();
        }
        let takes_json = operation["requestBody"]["content"].get("application/json").is_some();
        if takes_json && operation["responses"].get("415").is_none() {
            operation["responses"]["415"] = not_json.clone();
        }
    }
}
