//! Google's error model as the REST APIs put it on the wire.
//!
//! Every failure the mock returns goes through [`ApiError`], so the HTTP
//! status, the canonical `status` string and the envelope shape always agree
//! (the Rust SDK reads the code from `"status"`, not from `"code"`).

use serde_json::{Value, json};

/// Canonical `google.rpc.Code` values the mock can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Cancelled,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    Unauthenticated,
}

impl Code {
    /// The HTTP status Google's REST front end maps this code to.
    pub fn http_status(self) -> u16 {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::Unauthenticated => 401,
            Code::PermissionDenied => 403,
            Code::NotFound => 404,
            Code::Aborted | Code::AlreadyExists => 409,
            Code::ResourceExhausted => 429,
            Code::Cancelled => 499,
            Code::Internal => 500,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::DeadlineExceeded => 504,
        }
    }

    /// The `status` string of the error envelope.
    pub fn name(self) -> &'static str {
        match self {
            Code::Cancelled => "CANCELLED",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The code Google's REST front end uses for an HTTP status (used when a
    /// fault is injected as a bare HTTP status).
    pub fn from_http_status(status: u16) -> Option<Code> {
        Some(match status {
            400 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            409 => Code::Aborted,
            429 => Code::ResourceExhausted,
            499 => Code::Cancelled,
            500 => Code::Internal,
            501 => Code::Unimplemented,
            503 => Code::Unavailable,
            504 => Code::DeadlineExceeded,
            _ => return None,
        })
    }
}

/// An error answer: code, message and `details` (typed `google.rpc` messages).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub details: Vec<Value>,
    /// Seconds for a `Retry-After` header, when the answer carries one.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(Code::FailedPrecondition, message)
    }

    /// KMS says "<Kind> <name> not found." for a missing resource.
    pub fn not_found(kind: &str, name: &str) -> Self {
        Self::new(Code::NotFound, format!("{kind} {name} not found."))
    }

    /// The IAM denial Google returns, with the `ErrorInfo` that names the permission.
    pub fn permission_denied(domain: &str, permission: &str, resource: &str) -> Self {
        let mut err = Self::new(
            Code::PermissionDenied,
            format!(
                "Permission '{permission}' denied on resource '{resource}' (or it may not exist)."
            ),
        );
        err.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "IAM_PERMISSION_DENIED",
            "domain": domain,
            "metadata": {"permission": permission, "resource": resource}
        }));
        err
    }

    /// Add a `google.rpc.ErrorInfo` detail.
    pub fn with_error_info(mut self, reason: &str, domain: &str, metadata: Value) -> Self {
        self.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": domain,
            "metadata": metadata
        }));
        self
    }

    /// The JSON envelope: `{"error": {"code", "message", "status", "details"}}`.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "code": self.code.http_status(),
            "message": self.message,
            "status": self.code.name(),
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.code.http_status(),
            self.code.name(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}
