//! How the SDK clients are built: endpoints, credentials, retry and timeout policy.
//!
//! Four rules are enforced here rather than left to callers:
//! - a token never goes to a mock: in `Auto` mode each client whose endpoint is loopback is
//!   anonymous (even when other services use Google and credentials), and when every endpoint is
//!   loopback no credentials are even loaded;
//! - an endpoint is never echoed with its user info, query or fragment (where secrets live) in an
//!   error;
//! - plain HTTP only to loopback unless the operator explicitly allows it (a bearer token over
//!   cleartext to a remote host is how tokens leak);
//! - nothing can stall: the SDK default (10 attempts / 60 s, backoff from 1 s) is replaced on
//!   every client by an attempt timeout, an attempt limit, a total time limit and a jittered
//!   exponential backoff that honours the service's `Retry-After` / `RetryInfo` when it fits in
//!   the call's budget (and gives up at once when it does not).

use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use google_cloud_auth::credentials::{Credentials, anonymous, impersonated};
use google_cloud_gax::backoff_policy::BackoffPolicy;
use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicy, RetryPolicyExt};
use google_cloud_gax::retry_result::RetryResult;
use google_cloud_gax::retry_state::RetryState;
use google_cloud_gax::retry_throttler::CircuitBreaker;
use google_cloud_gax::throttle_result::ThrottleResult;

use super::Gcp;
use super::deferred::{Deferred, joined};
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
    let shown = redact_endpoint(raw);
    let bad = |why: &str| GcpError::Config(format!("{service} endpoint {shown:?}: {why}"));
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
    if rest.contains(['?', '#']) {
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

/// An endpoint as it may be shown in an error: without user info (`user:password@`), query and
/// fragment (`?key=...`), control characters, and at most 200 characters.
pub(crate) fn redact_endpoint(raw: &str) -> String {
    let (scheme, rest) = match raw.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, raw),
    };
    let (before_query, cut_query) = match rest.find(['?', '#']) {
        Some(i) => (&rest[..i], true),
        None => (rest, false),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(i) => format!("REDACTED@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    let mut shown = match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    };
    if cut_query {
        shown.push_str("?REDACTED");
    }
    let shown: String = shown
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect();
    shown
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

/// The credentials of the clients: `remote` for endpoints that are not loopback (Google, or an
/// explicit remote endpoint), `loopback` for loopback endpoints. In `Auto` mode loopback
/// endpoints are always anonymous, so a token never reaches a local mock even when the other
/// services use Google with credentials.
#[derive(Clone, Debug)]
pub(crate) struct ClientCredentials {
    pub remote: Credentials,
    pub loopback: Credentials,
    /// True when no client sends credentials.
    pub anonymous: bool,
}

impl ClientCredentials {
    pub(crate) fn for_endpoint(&self, endpoint: Option<&Endpoint>) -> Credentials {
        match endpoint {
            Some(e) if e.loopback => self.loopback.clone(),
            _ => self.remote.clone(),
        }
    }
}

/// Builds the credentials for the configured mode.
pub(crate) fn credentials(
    cfg: &GcpConfig,
    endpoints: &ResolvedEndpoints,
) -> Result<ClientCredentials, GcpError> {
    credentials_with(cfg, endpoints, || {
        google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|e| e.to_string())
    })
}

/// [`credentials`], with the Application Default Credentials loader passed in (tests).
pub(crate) fn credentials_with(
    cfg: &GcpConfig,
    endpoints: &ResolvedEndpoints,
    load_adc: impl FnOnce() -> Result<Credentials, String>,
) -> Result<ClientCredentials, GcpError> {
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
        let none = anonymous::Builder::new().build();
        return Ok(ClientCredentials {
            remote: none.clone(),
            loopback: none,
            anonymous: true,
        });
    }
    // The SDK's own errors can quote the credentials file; only its kind is shown.
    let adc = load_adc().map_err(|e| {
        GcpError::Config(format!(
            "cannot load application default credentials: {}",
            credentials_error(&e)
        ))
    })?;
    let remote = match &cfg.impersonate_service_account {
        None => adc,
        Some(sa) => impersonated::Builder::from_source_credentials(adc)
            .with_target_principal(sa.clone())
            .build()
            .map_err(|e| {
                GcpError::Config(format!(
                    "cannot impersonate {sa}: {}",
                    credentials_error(&e.to_string())
                ))
            })?,
    };
    let loopback = match cfg.credentials {
        CredentialsMode::Auto => anonymous::Builder::new().build(),
        _ => remote.clone(),
    };
    Ok(ClientCredentials {
        remote,
        loopback,
        anonymous: false,
    })
}

/// A credentials error as it may be printed: one line, bounded, and cut before anything that
/// looks like token or key material.
pub(crate) fn credentials_error(message: &str) -> String {
    const SECRET_MARKERS: [&str; 8] = [
        "-----BEGIN",
        "private_key",
        "refresh_token",
        "client_secret",
        "access_token",
        "ya29.",
        "Bearer ",
        "\"token\"",
    ];
    let mut text: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if let Some(i) = SECRET_MARKERS.iter().filter_map(|m| text.find(m)).min() {
        text.truncate(i);
        text.push_str("[REDACTED]");
    }
    if text.chars().count() > 300 {
        text = text.chars().take(300).collect::<String>() + "…";
    }
    text
}

/// The retry policy of every client.
///
/// - UNAVAILABLE / HTTP 503 and I/O errors: retried for idempotent calls (AIP-194);
/// - connection failures: retried for every call (the request never left);
/// - RESOURCE_EXHAUSTED / HTTP 429: retried for every call (the quota check rejects a request
///   before it runs, so a replay cannot apply a mutation twice);
/// - attempt timeouts: retried for idempotent calls only (a timed-out mutation may have landed);
/// - at most `max_attempts` attempts and `total_timeout` overall; the last attempt's own timeout
///   is shortened to what is left of `total_timeout`;
/// - retries are throttled per client by a circuit breaker (after five failed attempts with no
///   success in between) rather than the SDK's default adaptive throttler, which, on a client
///   that has made one call, refuses the first retry half of the time: a CLI's clients make a
///   handful of calls, so "503 once, then fine" must be retried at once.
/// - a `Retry-After` header or `RetryInfo` detail on the failed attempt sets the least delay
///   before the next one (see [`RetryAfterBackoff`]).
pub(crate) fn retry_policy(r: &RetryConfig) -> Arc<dyn RetryPolicy> {
    Arc::new(HintingRetryPolicy {
        inner: Aip194Strict
            .continue_on_too_many_requests()
            .continue_on_client_timeout()
            .with_attempt_limit(r.max_attempts.max(1))
            .with_time_limit(r.total_timeout),
    })
}

/// Exponential backoff (×2 per attempt, capped) with full jitter: the SDK draws each delay
/// uniformly from `[0, ceiling]`, so many responders hitting one quota do not retry in lockstep;
/// raised to the service's `Retry-After` when it gave one.
pub(crate) fn backoff_policy(r: &RetryConfig) -> Result<Arc<dyn BackoffPolicy>, GcpError> {
    let backoff = ExponentialBackoffBuilder::new()
        .with_initial_delay(r.initial_backoff)
        .with_maximum_delay(r.max_backoff)
        .with_scaling(2.0)
        .build()
        .map_err(|e| GcpError::Config(format!("retry backoff: {e}")))?;
    Ok(Arc::new(RetryAfterBackoff {
        inner: Arc::new(backoff),
    }))
}

thread_local! {
    /// The retry hint of the attempt that just failed on this thread.
    ///
    /// The SDK's retry loop calls `RetryPolicy::on_error(error)` and then, on the same thread
    /// with no `.await` in between, `BackoffPolicy::on_failure(state)`, which is not given the
    /// error. [`HintingRetryPolicy`] leaves the hint here and [`RetryAfterBackoff`] takes it, so
    /// concurrent calls on other threads (or other tasks on this one) cannot see each other's
    /// hints. `tests::retry_after_is_honoured_*` checks the SDK still behaves so.
    ///
    /// The hint is tagged with the retry loop's start and attempt number: when the policy
    /// stops the loop (no backoff follows), a hint left behind must not be taken by another
    /// call's backoff on the same thread.
    static RETRY_HINT: Cell<Option<(std::time::Instant, u32, Duration)>> = const { Cell::new(None) };
}

/// The retry policy, plus noting the failed attempt's retry hint for the backoff.
#[derive(Debug)]
struct HintingRetryPolicy<P> {
    inner: P,
}

impl<P: RetryPolicy> RetryPolicy for HintingRetryPolicy<P> {
    fn on_error(&self, state: &RetryState, error: GaxError) -> RetryResult {
        let hint = super::error::retry_hint(&error).map(|d| (state.start, state.attempt_count, d));
        RETRY_HINT.with(|h| h.set(hint));
        self.inner.on_error(state, error)
    }

    fn on_throttle(&self, state: &RetryState, error: GaxError) -> ThrottleResult {
        RETRY_HINT.with(|h| h.set(None));
        self.inner.on_throttle(state, error)
    }

    fn remaining_time(&self, state: &RetryState) -> Option<Duration> {
        self.inner.remaining_time(state)
    }
}

/// The jittered exponential backoff, but never shorter than the service's retry hint
/// (`Retry-After: S`, or a `RetryInfo` detail). A hint longer than what is left of the call's
/// budget makes the SDK give up at once with that error (its loop refuses to sleep past the
/// time limit), so the caller gets `ResourceExhausted { retry_after }` instead of a stall.
#[derive(Debug)]
struct RetryAfterBackoff {
    inner: Arc<dyn BackoffPolicy>,
}

impl BackoffPolicy for RetryAfterBackoff {
    fn on_failure(&self, state: &RetryState) -> Duration {
        let jittered = self.inner.on_failure(state);
        match RETRY_HINT.with(Cell::take) {
            Some((start, attempt, hint))
                if start == state.start && attempt == state.attempt_count =>
            {
                hint.max(jittered)
            }
            _ => jittered,
        }
    }
}

/// Applies endpoint, credentials and the retry/timeout policy to any SDK client builder.
macro_rules! build_client {
    ($builder:expr, $endpoint:expr, $setup:expr, $service:literal) => {{
        let setup: &ClientSetup = $setup;
        let mut builder = $builder
            .with_credentials(setup.credentials.for_endpoint($endpoint.as_ref()))
            .with_retry_policy(setup.retry.clone())
            .with_backoff_policy(setup.backoff.clone())
            .with_retry_throttler(CircuitBreaker::default())
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
    credentials: ClientCredentials,
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
        let credentials = credentials(cfg, &endpoints)?;
        let anonymous = credentials.anonymous;
        let setup = ClientSetup {
            credentials,
            retry: retry_policy(&cfg.retry),
            backoff: backoff_policy(&cfg.retry)?,
            attempt_timeout: cfg.retry.attempt_timeout,
        };
        // Building a client can itself reach the network (ADC on GCE asks the metadata server
        // for the universe domain), so it gets the same overall bound as a call. Each build also
        // loads the system's root certificates (synchronously, a few milliseconds apiece), so
        // the clients are built on separate tasks: on a multi-core machine they load in parallel
        // instead of one after another before the first request can leave.
        let setup = Arc::new(setup);
        let total = cfg.retry.total_timeout;
        macro_rules! build_task {
            ($builder:expr, $endpoint:expr, $service:literal) => {{
                let setup = Arc::clone(&setup);
                let endpoint = $endpoint.clone();
                async move {
                    tokio::time::timeout(total, async {
                        Ok::<_, GcpError>(build_client!($builder, endpoint, &setup, $service))
                    })
                    .await
                    .map_err(|_| {
                        GcpError::Config(format!("building the {} client timed out", $service))
                    })?
                }
            }};
        }
        use google_cloud_kms_inventory_v1::client::KeyTrackingService;
        use google_cloud_kms_v1::client::KeyManagementService;
        use google_cloud_logging_v2::client::LoggingServiceV2;
        use google_cloud_resourcemanager_v3::client::{Folders, Organizations, Projects};
        let rm = &endpoints.resource_manager;
        // What the first requests need is built first, each on its own task; the rest is needed
        // a round trip later (see `deferred`).
        let kms = tokio::spawn(build_task!(
            KeyManagementService::builder(),
            endpoints.kms,
            "kms"
        ));
        let logging = tokio::spawn(build_task!(
            LoggingServiceV2::builder(),
            endpoints.logging,
            "logging"
        ));
        let projects = tokio::spawn(build_task!(Projects::builder(), rm, "projects"));
        let inventory = Deferred::spawn(build_task!(
            KeyTrackingService::builder(),
            endpoints.inventory,
            "kms inventory"
        ));
        let folders = Deferred::spawn(build_task!(Folders::builder(), rm, "folders"));
        let organizations =
            Deferred::spawn(build_task!(Organizations::builder(), rm, "organizations"));
        let (kms, logging, projects) =
            tokio::try_join!(joined(kms), joined(logging), joined(projects))?;
        Ok(Gcp {
            kms,
            logging,
            inventory,
            projects,
            folders,
            organizations,
            anonymous,
        })
    }
}
