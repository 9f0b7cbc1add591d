//! Every way an ingest request can fail, and the one place that maps them to HTTP.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use stormscope_shared::DecodeError;
use stormscope_shared::tenancy::TenancyError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Tenancy(#[from] TenancyError),
    #[error("unsupported Content-Type: {0:?} (want application/msgpack or application/json)")]
    ContentType(String),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("body exceeds the compressed size limit of {0}")]
    BodyTooLarge(usize),
    #[error("reading the body: {0}")]
    Body(String),
    #[error("the body did not arrive within {0:?}")]
    BodyTimeout(std::time::Duration),
    /// The spool is full: nothing can be accepted durably until the object store drains it.
    #[error("spool full ({bytes} of {max} bytes); retry later")]
    SpoolFull { bytes: u64, max: u64 },
    #[error("spool unavailable: {0}")]
    Spool(String),
    /// A bug or a runtime shutting down, never the probe's doing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    /// A short label for `stormscope_ingest_rejected_total{reason=...}`.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Tenancy(_) => "tenancy",
            IngestError::ContentType(_) => "content_type",
            IngestError::Decode(e) => e.kind(),
            IngestError::BodyTooLarge(_) => "compressed_size",
            IngestError::Body(_) => "body",
            IngestError::BodyTimeout(_) => "body_timeout",
            IngestError::SpoolFull { .. } => "spool_full",
            IngestError::Spool(_) => "spool",
            IngestError::Internal(_) => "internal",
        }
    }
}

/// Seconds a probe is asked to wait when the spool is full.
pub const RETRY_AFTER_SECS: u64 = 5;

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngestError::Tenancy(TenancyError::InvalidTenant(_)) => StatusCode::BAD_REQUEST,
            IngestError::Tenancy(_) => StatusCode::UNAUTHORIZED,
            IngestError::ContentType(_) | IngestError::Body(_) => StatusCode::BAD_REQUEST,
            IngestError::Decode(e) if e.is_too_large() => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Decode(_) => StatusCode::BAD_REQUEST,
            IngestError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            IngestError::SpoolFull { .. } | IngestError::Spool(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            IngestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.status_code() == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header(("Retry-After", RETRY_AFTER_SECS.to_string()));
        }
        response.json(serde_json::json!({ "error": self.to_string(), "reason": self.reason() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormscope_shared::Limit;

    #[test]
    fn statuses() {
        let cases: Vec<(IngestError, u16)> = vec![
            (TenancyError::UnknownToken.into(), 401),
            (TenancyError::MissingHeader("x".into()).into(), 401),
            (TenancyError::InvalidTenant("x".into()).into(), 400),
            (IngestError::ContentType("text/plain".into()), 400),
            (DecodeError::Empty.into(), 400),
            (DecodeError::limit(Limit::DecompressedSize, 1).into(), 413),
            (DecodeError::limit(Limit::NestingDepth, 1).into(), 400),
            (IngestError::BodyTooLarge(1), 413),
            (IngestError::SpoolFull { bytes: 2, max: 1 }, 503),
            (
                IngestError::BodyTimeout(std::time::Duration::from_secs(1)),
                408,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(err.status_code().as_u16(), status, "{err}");
        }
        let full = IngestError::SpoolFull { bytes: 2, max: 1 }.error_response();
        assert_eq!(full.headers().get("retry-after").unwrap(), "5");
    }
}
