//! Paged lists: the query every list takes and the page it answers.

use axum::extract::Query;
use serde::Deserialize;
use wire::ErrorCode;

use crate::AppError;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// The `next_cursor` of the page before.
    #[param(pattern = r"^(?:[0-9a-fA-F]{2})+$", max_length = 1024)]
    pub(crate) cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

impl ListQuery {
    pub(crate) fn limit(&self) -> Result<usize, AppError> {
        match self.limit {
            None => Ok(crate::limits::LIST_ITEMS_DEFAULT),
            Some(n) if (1..=crate::limits::LIST_ITEMS_MAX).contains(&n) => Ok(n),
            Some(n) => Err(AppError::new(
                ErrorCode::InvalidLimit,
                format!("limit {n}: 1 to {} items per page", crate::limits::LIST_ITEMS_MAX),
            )),
        }
    }
}

pub(crate) fn list_query(
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<ListQuery, AppError> {
    query.map(|Query(q)| q).map_err(|e| AppError::new(ErrorCode::InvalidQuery, e.body_text()))
}
