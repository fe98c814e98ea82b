//! Share links: opening one (live, not revoked, within its views), and the visit token that
//! makes a viewer's page, content and bundle one recorded access.

use axum::extract::Query;
use schemas::*;
use serde::Deserialize;

use crate::app::lookup::{Resolved, resolve};
use crate::{AppError, AppState};
use wire::ErrorCode;

/// `?visit=` on a share link's content and bundle.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct VisitQuery {
    /// The `visit` the link's page answered.
    #[param(pattern = "^[0-9a-f]{32}$")]
    visit: Option<String>,
}

impl VisitQuery {
    pub(crate) fn of(
        query: Result<Query<VisitQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Option<String>, AppError> {
        let Query(query) =
            query.map_err(|e| AppError::new(ErrorCode::InvalidQuery, e.body_text()))?;
        Ok(query.visit)
    }
}

/// A visit token: this link, this viewer (the keyed hash of its address) and this time
/// window, keyed by the platform secret. It grants nothing (the link does); it only says the
/// viewer's access was already recorded in this window.
fn visit_token(state: &AppState, share: &Id16, viewer_ref: &Digest32, window: i64) -> String {
    let mut hasher = blake3::Hasher::new_keyed(&state.platform_secret);
    hasher.update(b"locker share visit v1");
    hasher.update(share.as_bytes());
    hasher.update(&viewer_ref.0);
    hasher.update(&window.to_le_bytes());
    hasher.finalize().to_hex()[..32].to_owned()
}

/// Checks a public share link, records the view unless `visit` says this viewer's visit was
/// recorded within `limits::SHARE_VISIT_MS`, and returns the document it opens and the visit.
pub(crate) async fn open_share(
    state: &AppState,
    locker: &str,
    share: &str,
    extensions: &axum::http::Extensions,
    visit: Option<&str>,
) -> Result<(Resolved, projections::views::ShareView, LockerId, String), AppError> {
    let gone = || AppError::not_found("no such share link").with_code(ErrorCode::UnknownShare);
    let locker = LockerId::parse(locker).map_err(|_| gone())?;
    let id = Id16::from_hex(share).map_err(|_| gone())?;
    let share = state.views.share(&locker, &id)?.ok_or_else(gone)?;
    if share.revoked {
        return Err(AppError::new(ErrorCode::ShareRevokedAsGone, "the owner revoked this link"));
    }
    if state.clock.now() >= share.expires_at_ms {
        return Err(AppError::new(ErrorCode::ShareExpired, "this link has expired"));
    }
    let resolved = resolve(state, &locker, &share.document)?;
    // Views are told apart by a keyed hash of the viewer's address; the address is not kept.
    let address = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default();
    let viewer_ref = Digest32(
        *blake3::keyed_hash(&state.platform_secret, format!("viewer {address}").as_bytes())
            .as_bytes(),
    );
    let window = state.clock.now().0 / crate::limits::SHARE_VISIT_MS;
    let token = visit_token(state, &id, &viewer_ref, window);
    // This window's token or the last one's, so a visit spanning a window's end stays one.
    // Compared as hashes: the time taken says nothing about the expected token.
    let recorded = visit.is_some_and(|sent| {
        [token.clone(), visit_token(state, &id, &viewer_ref, window - 1)]
            .iter()
            .any(|expected| blake3::hash(sent.as_bytes()) == blake3::hash(expected.as_bytes()))
    });
    if !recorded {
        // Every view is an event: a link's holder may not make the ledger write at will.
        state.share_views.take(&id, 1, state.clock.now()).map_err(|wait_s| {
            AppError::new(ErrorCode::TooManyViews,
                format!(
                    "this link was opened {} times within the hour, its most; open it again in {wait_s} s",
                    state.share_views.capacity()
                ),
            )
        })?;
        let payload = Payload::SharedDocumentViewed(SharedDocumentViewed {
            locker,
            share_id: id,
            viewer_ref,
        });
        crate::app::write::as_platform(state, payload).await?;
    }
    Ok((resolved, share, locker, token))
}
