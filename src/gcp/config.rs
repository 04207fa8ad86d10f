//! How the SDK clients are built: endpoints, credentials, retry and timeout policy.
//!
//! Three rules are enforced here rather than left to callers:
//! - a token never goes to a mock: in `Auto` mode credentials are anonymous exactly when every
//!   endpoint in use is loopback;
//! - plain HTTP only to loopback unless the operator explicitly allows it (a bearer token over
//!   cleartext to a remote host is how tokens leak);
//! - nothing can stall: the SDK default (10 attempts / 60 s, backoff from 1 s) is replaced on
//!   every client by an attempt timeout, an attempt limit, a total time limit and a jittered
//!   exponential backoff.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use google_cloud_auth::credentials::{Credentials, anonymous, impersonated};
use google_cloud_gax::backoff_policy::BackoffPolicy;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicy, RetryPolicyExt};

use super::Gcp;
use super::error::GcpError;

/// Endpoint overrides; a per-service value wins over `all`. `None` everywhere means Google.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub all: Option<String>,
    pub kms: Option<String>,
    pub logging: Option<String>,
    pub inventory: Option<String>,
    pub resource_manager: Option<String>,
}

/// Which credentials the clients use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CredentialsMode {
    /// Anonymous when every endpoint in use is loopback (a mock), else ADC.
    #[default]
    Auto,
    /// No credentials at all (no `authorization` header).
    Anonymous,
    /// Application Default Credentials (optionally impersonating a service account).
    Adc,
}

/// Retry and timeout policy applied to every client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Limit for one HTTP attempt.
    pub attempt_timeout: Duration,
    /// Limit for one operation, all attempts and backoff included.
    pub total_timeout: Duration,
    /// Attempts per operation, the first one included.
    pub max_attempts: u32,
    /// First backoff ceiling; the actual delay is uniformly jittered in `[0, ceiling]`.
    pub initial_backoff: Duration,
    /// Backoff ceiling cap (the ceiling doubles per attempt up to this).
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempt_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Everything needed to build the clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcpConfig {
    pub endpoints: Endpoints,
    pub credentials: CredentialsMode,
    /// Service account e-mail to impersonate (ADC are the source credentials).
    pub impersonate_service_account: Option<String>,
    /// Allow `http://` endpoints that are not loopback.
    pub allow_insecure_endpoint: bool,
    pub retry: RetryConfig,
}

/// A checked endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub url: String,
    pub https: bool,
    pub loopback: bool,
}

/// Parses and checks one endpoint URL: `scheme://host[:port][/path]`, scheme http or https.
///
/// Done by hand (no `url` crate among the direct dependencies); the SDK parses the URL again.
pub(crate) fn parse_endpoint(
    service: &str,
    raw: &str,
    allow_insecure: bool,
) -> Result<Endpoint, GcpError> {
    let bad = |why: &str| GcpError::Config(format!("{service} endpoint {raw:?}: {why}"));
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| bad("needs a scheme, e.g. https://host or http://127.0.0.1:PORT"))?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err(bad("scheme must be http or https")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("must not contain user info"));
    }
    let (host, port) = split_host_port(authority).ok_or_else(|| bad("has no valid host"))?;
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(bad("has an invalid port"));
    }
    if rest[authority.len()..].starts_with(['?', '#']) {
        return Err(bad("must not have a query or fragment"));
    }
    let loopback = is_loopback_host(host);
    if !https && !loopback && !allow_insecure {
        return Err(bad(
            "plain http is only allowed to loopback; use https or pass --allow-insecure-endpoint",
        ));
    }
    Ok(Endpoint {
        url: raw.to_string(),
        https,
        loopback,
    })
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        return (!host.is_empty()).then_some((host, port));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    (!host.is_empty() && !host.contains(':')).then_some((host, port))
}

/// 127.0.0.0/8, ::1 and localhost (the host part of a URL, IPv6 without brackets).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return ip.is_loopback();
    }
    host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// The checked endpoints of the four services (`None`: the SDK's Google default, https).
#[derive(Debug, Clone)]
pub(crate) struct ResolvedEndpoints {
    pub kms: Option<Endpoint>,
    pub logging: Option<Endpoint>,
    pub inventory: Option<Endpoint>,
    pub resource_manager: Option<Endpoint>,
}

impl ResolvedEndpoints {
    pub(crate) fn resolve(e: &Endpoints, allow_insecure: bool) -> Result<Self, GcpError> {
        let one = |service: &str, specific: &Option<String>| {
            specific
                .as_ref()
                .or(e.all.as_ref())
                .map(|raw| parse_endpoint(service, raw.trim(), allow_insecure))
                .transpose()
        };
        Ok(ResolvedEndpoints {
            kms: one("kms", &e.kms)?,
            logging: one("logging", &e.logging)?,
            inventory: one("inventory", &e.inventory)?,
            resource_manager: one("resource manager", &e.resource_manager)?,
        })
    }

    /// True when every endpoint is an explicit loopback URL (a Google default is not).
    pub(crate) fn all_loopback(&self) -> bool {
        [
            &self.kms,
            &self.logging,
            &self.inventory,
            &self.resource_manager,
        ]
        .iter()
        .all(|e| e.as_ref().is_some_and(|e| e.loopback))
    }
}

/// Builds the credentials for the configured mode. Returns them and whether they are anonymous.
pub(crate) fn credentials(
    cfg: &GcpConfig,
    endpoints: &ResolvedEndpoints,
) -> Result<(Credentials, bool), GcpError> {
    let anonymous = match cfg.credentials {
        CredentialsMode::Anonymous => true,
        CredentialsMode::Adc => false,
        CredentialsMode::Auto => endpoints.all_loopback(),
    };
    if anonymous {
        if cfg.impersonate_service_account.is_some() {
            // Silently dropping the impersonation would run the response under an identity the
            // operator did not choose; refuse instead.
            return Err(GcpError::Config(
                "service account impersonation needs application default credentials, but \
                 anonymous credentials were selected (every endpoint is loopback or anonymous \
                 was asked for); select adc credentials explicitly"
                    .to_string(),
            ));
        }
        return Ok((anonymous::Builder::new().build(), true));
    }
    let adc = google_cloud_auth::credentials::Builder::default()
        .build()
        .map_err(|e| {
            GcpError::Config(format!("cannot load application default credentials: {e}"))
        })?;
    let creds = match &cfg.impersonate_service_account {
        None => adc,
        Some(sa) => impersonated::Builder::from_source_credentials(adc)
            .with_target_principal(sa.clone())
            .build()
            .map_err(|e| GcpError::Config(format!("cannot impersonate {sa}: {e}")))?,
    };
    Ok((creds, false))
}

/// The retry policy of every client.
///
/// - UNAVAILABLE / HTTP 503 and I/O errors: retried for idempotent calls (AIP-194);
/// - connection failures: retried for every call (the request never left);
/// - RESOURCE_EXHAUSTED / HTTP 429: retried for every call (the quota check rejects a request
///   before it runs, so a replay cannot apply a mutation twice);
/// - attempt timeouts: retried for idempotent calls only (a timed-out mutation may have landed);
/// - at most `max_attempts` attempts and `total_timeout` overall; the last attempt's own timeout
///   is shortened to what is left of `total_timeout`.
pub(crate) fn retry_policy(r: &RetryConfig) -> Arc<dyn RetryPolicy> {
    Arc::new(
        Aip194Strict
            .continue_on_too_many_requests()
            .continue_on_client_timeout()
            .with_attempt_limit(r.max_attempts.max(1))
            .with_time_limit(r.total_timeout),
    )
}

/// Exponential backoff (×2 per attempt, capped) with full jitter: the SDK draws each delay
/// uniformly from `[0, ceiling]`, so many responders hitting one quota do not retry in lockstep.
pub(crate) fn backoff_policy(r: &RetryConfig) -> Result<Arc<dyn BackoffPolicy>, GcpError> {
    let backoff = ExponentialBackoffBuilder::new()
        .with_initial_delay(r.initial_backoff)
        .with_maximum_delay(r.max_backoff)
        .with_scaling(2.0)
        .build()
        .map_err(|e| GcpError::Config(format!("retry backoff: {e}")))?;
    Ok(Arc::new(backoff))
}

/// Applies endpoint, credentials and the retry/timeout policy to any SDK client builder.
macro_rules! build_client {
    ($builder:expr, $endpoint:expr, $setup:expr, $service:literal) => {{
        let setup: &ClientSetup = $setup;
        let mut builder = $builder
            .with_credentials(setup.credentials.clone())
            .with_retry_policy(setup.retry.clone())
            .with_backoff_policy(setup.backoff.clone())
            .with_attempt_timeout(setup.attempt_timeout);
        if let Some(e) = &$endpoint {
            builder = builder.with_endpoint(e.url.clone());
        }
        builder
            .build()
            .await
            .map_err(|e| GcpError::Config(format!("cannot build the {} client: {e}", $service)))?
    }};
}

struct ClientSetup {
    credentials: Credentials,
    retry: Arc<dyn RetryPolicy>,
    backoff: Arc<dyn BackoffPolicy>,
    attempt_timeout: Duration,
}

impl Gcp {
    /// Builds every client. Fails with `GcpError::Config` on a bad endpoint, a refused insecure
    /// endpoint, missing credentials or a bad retry configuration.
    pub async fn connect(cfg: &GcpConfig) -> Result<Gcp, GcpError> {
        if cfg.retry.attempt_timeout.is_zero() || cfg.retry.total_timeout.is_zero() {
            return Err(GcpError::Config(
                "retry timeouts must be greater than zero".to_string(),
            ));
        }
        let endpoints = ResolvedEndpoints::resolve(&cfg.endpoints, cfg.allow_insecure_endpoint)?;
        let (credentials, anonymous) = credentials(cfg, &endpoints)?;
        let setup = ClientSetup {
            credentials,
            retry: retry_policy(&cfg.retry),
            backoff: backoff_policy(&cfg.retry)?,
            attempt_timeout: cfg.retry.attempt_timeout,
        };
        // Building a client can itself reach the network (ADC on GCE asks the metadata server
        // for the universe domain), so it gets the same overall bound as a call.
        let build = async {
            use google_cloud_kms_inventory_v1::client::KeyTrackingService;
            use google_cloud_kms_v1::client::KeyManagementService;
            use google_cloud_logging_v2::client::LoggingServiceV2;
            use google_cloud_resourcemanager_v3::client::{Folders, Organizations, Projects};
            let s = &setup;
            let rm = &endpoints.resource_manager;
            Ok::<Gcp, GcpError>(Gcp {
                kms: build_client!(KeyManagementService::builder(), endpoints.kms, s, "kms"),
                logging: build_client!(
                    LoggingServiceV2::builder(),
                    endpoints.logging,
                    s,
                    "logging"
                ),
                inventory: build_client!(
                    KeyTrackingService::builder(),
                    endpoints.inventory,
                    s,
                    "kms inventory"
                ),
                projects: build_client!(Projects::builder(), rm, s, "projects"),
                folders: build_client!(Folders::builder(), rm, s, "folders"),
                organizations: build_client!(Organizations::builder(), rm, s, "organizations"),
                anonymous,
            })
        };
        tokio::time::timeout(cfg.retry.total_timeout, build)
            .await
            .map_err(|_| GcpError::Config("building the clients timed out".to_string()))?
    }
}
