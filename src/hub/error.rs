//! The hub's refusals: [`ApiError`] (a status, a stable word, a sentence) and
//! [`ApiJson`], a JSON body whose rejections are `ApiError`s.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::api::{BODY_LIMIT, ErrorBody};
use crate::store::StoreError;

/// A refusal: status, a stable word, a sentence.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
    error: &'static str,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
        }
    }

    pub(super) fn internal(message: String) -> Self {
        tracing::error!(message, "hub internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The sentence, for a page rather than a JSON body.
    pub(super) fn message(&self) -> &str {
        &self.message
    }
}

impl From<crate::app::docs::DocError> for ApiError {
    fn from(e: crate::app::docs::DocError) -> Self {
        match e {
            crate::app::docs::DocError::Store(s) => s.into(),
            crate::app::docs::DocError::Refused(m) => {
                ApiError::new(StatusCode::CONFLICT, "not_ready", m)
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchOrder(o) => ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_order",
                format!("the hub has no order {o}; import it on the hub first"),
            ),
            StoreError::DiskFull { .. } | StoreError::Locked { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("{e}; nothing was stored, retry later"),
            ),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.error.to_string(),
            message: self.message,
        };
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// JSON body whose refusals are [`ApiError`]s: 400 with what is wrong, 413 if too big.
pub(super) struct ApiJson<T>(pub(super) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        // Refuse an announced oversize body at once, without reading it.
        let result = match announced {
            Some(n) if n > BODY_LIMIT => Err(None),
            _ => Json::<T>::from_request(req, state).await.map_err(Some),
        };
        match result {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => {
                let status = r
                    .as_ref()
                    .map_or(StatusCode::PAYLOAD_TOO_LARGE, JsonRejection::status);
                Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "too_large",
                        format!(
                            "request body over {} MiB: push fewer events at a time",
                            BODY_LIMIT >> 20
                        ),
                    )
                } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    ApiError::new(
                        status,
                        "not_json",
                        "send the body as JSON with content-type: application/json",
                    )
                } else {
                    let why = r.map(|r| r.body_text()).unwrap_or_default();
                    ApiError::bad_request(format!("malformed JSON body: {why}"))
                })
            }
        }
    }
}
