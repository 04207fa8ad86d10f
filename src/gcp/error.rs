//! The one error type of the API layer, and its mapping from the SDK's error.
//!
//! Callers decide what to do from the variant alone (re-read on `Aborted`, wait and resume on
//! `ResourceExhausted`, report the missing permission on `PermissionDenied`), so the mapping
//! below is careful to look through the SDK's retry wrapper to the error of the last attempt.
//! Messages are short lowercase fragments built from the service's own message; they never carry
//! request headers, so no token can leak through them.

use std::error::Error as StdError;
use std::time::Duration;

use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::error::rpc::{Code, StatusDetails};

/// Everything that can go wrong when talking to Google Cloud.
#[derive(Debug, thiserror::Error)]
pub enum GcpError {
    /// The configuration cannot work (bad endpoint, refused insecure endpoint, no credentials).
    #[error("configuration: {0}")]
    Config(String),
    /// The resource does not exist, or the caller may not know it exists.
    #[error("not found: {resource}")]
    NotFound { resource: String },
    /// The caller lacks a permission; `permission` names it when Google says which.
    #[error("permission denied: {message}")]
    PermissionDenied {
        message: String,
        permission: Option<String>,
    },
    /// Quota or rate limit; `retry_after` is Google's hint (RetryInfo or `Retry-After`).
    #[error("resource exhausted: {message}{}", retry_after.map(|d| format!(" (the service asks to retry after {}s)", d.as_secs())).unwrap_or_default())]
    ResourceExhausted {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The service (or the connection to it) failed transiently and retries did not help.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A concurrency conflict, typically a stale IAM policy etag: re-read and retry.
    #[error("aborted: {0}")]
    Aborted(String),
    /// The request was rejected as malformed (bad name, bad filter, bad value).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The resource is not in a state that allows the operation.
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// The caller is not authenticated (no or rejected credentials).
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// No answer within the attempt or total time limit.
    #[error("timed out")]
    Timeout,
    /// The endpoint could not be reached at all.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The service answered, but not with what the API promises.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// Anything else, with Google's status code name (or `HTTP_<n>`).
    #[error("{code}: {message}")]
    Other { code: String, message: String },
}

impl GcpError {
    /// Maps an SDK error raised while working on `resource`.
    ///
    /// The retry loop wraps the last attempt's error in an "exhausted" error (sometimes twice:
    /// once in the time-limit policy's error, once in the loop), so the classification is done
    /// on the innermost SDK error found by following `source()`.
    pub(crate) fn from_gax(err: &GaxError, resource: &str) -> GcpError {
        classify(innermost(err), resource).scrubbed()
    }

    /// Every message cut before anything that looks like a token or key (a proxy's error page
    /// may echo the request's `authorization` header), on one line, bounded.
    fn scrubbed(self) -> GcpError {
        use super::config::credentials_error as scrub;
        match self {
            GcpError::Config(m) => GcpError::Config(scrub(&m)),
            GcpError::NotFound { resource } => GcpError::NotFound {
                resource: scrub(&resource),
            },
            GcpError::PermissionDenied {
                message,
                permission,
            } => GcpError::PermissionDenied {
                message: scrub(&message),
                permission,
            },
            GcpError::ResourceExhausted {
                message,
                retry_after,
            } => GcpError::ResourceExhausted {
                message: scrub(&message),
                retry_after,
            },
            GcpError::Unavailable(m) => GcpError::Unavailable(scrub(&m)),
            GcpError::Aborted(m) => GcpError::Aborted(scrub(&m)),
            GcpError::InvalidArgument(m) => GcpError::InvalidArgument(scrub(&m)),
            GcpError::FailedPrecondition(m) => GcpError::FailedPrecondition(scrub(&m)),
            GcpError::Unauthenticated(m) => GcpError::Unauthenticated(scrub(&m)),
            GcpError::Timeout => GcpError::Timeout,
            GcpError::Connect(m) => GcpError::Connect(scrub(&m)),
            GcpError::Malformed(m) => GcpError::Malformed(scrub(&m)),
            GcpError::Other { code, message } => GcpError::Other {
                code: scrub(&code),
                message: scrub(&message),
            },
        }
    }
}

/// Follows `source()` through exhausted-retry wrappers to the error of the last attempt.
fn innermost(err: &GaxError) -> &GaxError {
    let mut current = err;
    while current.is_exhausted() {
        let mut next: Option<&GaxError> = None;
        let mut source = current.source();
        while let Some(s) = source {
            if let Some(g) = s.downcast_ref::<GaxError>() {
                next = Some(g);
                break;
            }
            source = s.source();
        }
        match next {
            Some(n) => current = n,
            None => break,
        }
    }
    current
}

fn classify(err: &GaxError, resource: &str) -> GcpError {
    if let Some(status) = err.status() {
        let message = status.message.clone();
        let by_code = match status.code {
            Code::NotFound => Some(not_found(resource)),
            Code::PermissionDenied => Some(permission_denied(err, message.clone())),
            Code::ResourceExhausted => Some(GcpError::ResourceExhausted {
                retry_after: retry_after(err),
                message: message.clone(),
            }),
            Code::Unavailable => Some(GcpError::Unavailable(message.clone())),
            Code::Aborted => Some(GcpError::Aborted(message.clone())),
            Code::InvalidArgument | Code::OutOfRange => {
                Some(GcpError::InvalidArgument(message.clone()))
            }
            Code::FailedPrecondition => Some(GcpError::FailedPrecondition(message.clone())),
            Code::Unauthenticated => Some(GcpError::Unauthenticated(message.clone())),
            Code::DeadlineExceeded => Some(GcpError::Timeout),
            // The status is parsed from the `"status"` string of the envelope; when that is
            // missing the code is UNKNOWN, and the HTTP status says more.
            Code::Unknown => None,
            other => Some(GcpError::Other {
                code: other.name().to_string(),
                message: message.clone(),
            }),
        };
        if let Some(e) = by_code {
            return e;
        }
        if let Some(code) = err.http_status_code() {
            return from_http(err, code, message, resource);
        }
        return GcpError::Other {
            code: Code::Unknown.name().to_string(),
            message,
        };
    }
    if let Some(code) = err.http_status_code() {
        // Not a Google error envelope (a proxy's HTML page, an empty body): keep a short,
        // printable prefix of the payload so the operator sees who answered.
        let payload = err
            .http_payload()
            .map(|p| short_text(&String::from_utf8_lossy(p)))
            .unwrap_or_default();
        return from_http(err, code, payload, resource);
    }
    if err.is_timeout() {
        return GcpError::Timeout;
    }
    if err.is_connect() {
        return GcpError::Connect(chain(err));
    }
    if err.is_deserialization() {
        return GcpError::Malformed(chain(err));
    }
    if err.is_binding() {
        // The SDK checks resource names against the API's path templates before sending.
        return GcpError::InvalidArgument(format!("resource name {resource:?} is not valid here"));
    }
    if err.is_authentication() {
        // A token endpoint's answer can echo what was sent to it: cut before secrets.
        return GcpError::Unauthenticated(chain(err));
    }
    if err.is_io() {
        return GcpError::Unavailable(chain(err));
    }
    if err.is_serialization() {
        return GcpError::Other {
            code: "SERIALIZATION".to_string(),
            message: chain(err),
        };
    }
    GcpError::Other {
        code: "UNKNOWN".to_string(),
        message: chain(err),
    }
}

fn from_http(err: &GaxError, code: u16, message: String, resource: &str) -> GcpError {
    let message = if message.is_empty() {
        format!("http {code}")
    } else {
        message
    };
    match code {
        400 => GcpError::InvalidArgument(message),
        401 => GcpError::Unauthenticated(message),
        403 => permission_denied(err, message),
        404 => not_found(resource),
        409 => GcpError::Aborted(message),
        412 => GcpError::FailedPrecondition(message),
        429 => GcpError::ResourceExhausted {
            message,
            retry_after: retry_after(err),
        },
        502..=504 => GcpError::Unavailable(message),
        _ => GcpError::Other {
            code: format!("HTTP_{code}"),
            message,
        },
    }
}

fn not_found(resource: &str) -> GcpError {
    GcpError::NotFound {
        resource: resource.to_string(),
    }
}

fn permission_denied(err: &GaxError, message: String) -> GcpError {
    let from_details = err.status().and_then(|s| {
        s.details.iter().find_map(|d| match d {
            StatusDetails::ErrorInfo(info) => info.metadata.get("permission").cloned(),
            _ => None,
        })
    });
    let permission = from_details.or_else(|| permission_from_message(&message));
    GcpError::PermissionDenied {
        message,
        permission,
    }
}

/// Extracts `X` from Google's "Permission 'X' denied on resource ..." messages.
pub(crate) fn permission_from_message(message: &str) -> Option<String> {
    let rest = &message[message.find("Permission '")? + "Permission '".len()..];
    let end = rest.find('\'')?;
    let permission = &rest[..end];
    let looks_like_permission = !permission.is_empty()
        && permission
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    looks_like_permission.then(|| permission.to_string())
}

/// The retry hint of a failed attempt, for the backoff (see `config::RetryAfterBackoff`).
pub(crate) fn retry_hint(err: &GaxError) -> Option<Duration> {
    retry_after(err)
}

/// Google's retry hint: a RetryInfo detail wins over the `Retry-After` header (seconds form).
fn retry_after(err: &GaxError) -> Option<Duration> {
    let from_details = err.status().and_then(|s| {
        s.details.iter().find_map(|d| match d {
            StatusDetails::RetryInfo(info) => info
                .retry_delay
                .as_ref()
                .and_then(|d| Duration::try_from(*d).ok()),
            _ => None,
        })
    });
    from_details.or_else(|| {
        err.http_headers()?
            .get("retry-after")?
            .to_str()
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
            .map(Duration::from_secs)
    })
}

/// The error and its sources as one line, trimmed to a readable length.
fn chain(err: &GaxError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    short_text(&text)
}

fn short_text(text: &str) -> String {
    const MAX: usize = 300;
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() <= MAX {
        trimmed.to_string()
    } else {
        let mut cut: String = trimmed.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}
