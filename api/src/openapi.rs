//! The OpenAPI 3.1 document's frame: title, security schemes, tags and the error shape. The
//! paths come from each handler's `#[utoipa::path]`, registered with its route in `app`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

/// Every error: a stable machine-readable `code` and a message for people.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDto {
    /// Such as `invalid_uri`, `uri_exists`, `aadhaar_not_linked`, `invalid_filetype`,
    /// `invalid_filesize`, `quota_exceeded`, `consent_expired`, `bad_signature`.
    pub code: String,
    pub message: String,
}

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
