//! Command-line arguments, and their validation into a [`GcpConfig`] and
//! investigation [`Options`] before any work starts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::gcp::{CredentialsMode, Endpoints, GcpConfig, RetryConfig};
use crate::investigate::{LogReads, LogReadsConfig, Options};
use crate::render::Format;

#[derive(Debug, Parser)]
#[command(
    name = "kms-responder",
    version,
    about = "Investigate and respond to 'New Cloud KMS Key Created' (GCPNewKMSKey) alerts on Google Cloud",
    after_help = "Exit codes: 0 benign and complete, 1 failure, 2 usage error (nothing was sent to Google), \
3 evidence incomplete (see the report's gaps), 4 findings (verdict suspicious or malicious), \
5 refused (respond/undo: a resource changed since it was planned or recorded)."
)]
pub struct Cli {
    #[command(flatten)]
    pub google: GoogleArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Investigate alerts, audit log entries, Pub/Sub pushes or key names.
    Investigate(InvestigateArgs),
    /// Run an investigation end to end against the embedded Google Cloud mock.
    Demo(DemoArgs),
    /// Contain the key: disable, rotate, revoke, schedule-destroy, with a journal (see docs/response.md).
    Respond(crate::respond::RespondArgs),
    /// Put back what a respond run changed, from its journal (a dry run unless --apply).
    Undo(crate::respond::UndoArgs),
    /// Print the JSON Schema of the `--format json` report.
    Schema,
    /// Work with playbooks.
    #[command(subcommand)]
    Playbook(PlaybookCommand),
}

#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// Validate a playbook file; errors give line and column.
    Check { file: PathBuf },
}

#[derive(Debug, Args)]
pub struct InvestigateArgs {
    /// Files, `-` for stdin, or key names (projects/P/locations/L/keyRings/R/cryptoKeys/K).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Playbook (YAML) with thresholds, trust and verdict rules; default: the
    /// bundled one for the alert type.
    #[arg(long, value_name = "FILE")]
    pub playbook: Option<PathBuf>,
    /// How far before the event the log queries reach, e.g. 7d, 36h (default: the playbook's).
    #[arg(long, value_parser = parse_span)]
    pub lookback: Option<Duration>,
    /// Pages of 1000 log entries read at most per query (default: the playbook's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_pages: Option<u32>,
    /// Longest a Logging read waits in all when Logging refuses it for quota (429: another
    /// consumer of the project's quota), counted from the first refusal, e.g. 30s, 2m; 0s gives
    /// up at the first refusal. The tool's own pacing (60 reads/min per project) is not bounded
    /// by it.
    #[arg(long, default_value = "30s", value_parser = parse_quota_wait, value_name = "DURATION")]
    pub quota_wait: Duration,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Bundled scenario to investigate.
    #[arg(long, default_value = "ransomware-precursor", value_parser = bundled_scenario)]
    pub scenario: String,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Credentials {
    /// Anonymous for loopback endpoints (a mock), else Application Default Credentials.
    Auto,
    Anonymous,
    Adc,
}

#[derive(Debug, Args)]
pub struct GoogleArgs {
    /// Send every Google API to this base URL (e.g. a mock at http://127.0.0.1:PORT).
    #[arg(
        long,
        global = true,
        env = "KMS_RESPONDER_ENDPOINT",
        value_name = "URL"
    )]
    pub endpoint: Option<String>,
    /// Cloud KMS endpoint (overrides --endpoint).
    #[arg(long, global = true, value_name = "URL")]
    pub kms_endpoint: Option<String>,
    /// Cloud Logging endpoint (overrides --endpoint).
    #[arg(long, global = true, value_name = "URL")]
    pub logging_endpoint: Option<String>,
    /// KMS Inventory endpoint (overrides --endpoint).
    #[arg(long, global = true, value_name = "URL")]
    pub inventory_endpoint: Option<String>,
    /// Resource Manager endpoint (overrides --endpoint).
    #[arg(long, global = true, value_name = "URL")]
    pub resource_manager_endpoint: Option<String>,
    /// Which credentials to send.
    #[arg(long, global = true, value_enum, default_value_t = Credentials::Auto)]
    pub credentials: Credentials,
    /// Act as this service account (ADC must be allowed to impersonate it).
    #[arg(long, global = true, value_name = "SA_EMAIL")]
    pub impersonate_service_account: Option<String>,
    /// Allow a plain-http endpoint that is not loopback.
    #[arg(long, global = true)]
    pub allow_insecure_endpoint: bool,
    /// Time limit for one HTTP attempt, e.g. 10s.
    #[arg(long, global = true, default_value = "10s", value_parser = parse_span)]
    pub attempt_timeout: Duration,
    /// Time limit for one API call, retries included, e.g. 30s.
    #[arg(long, global = true, default_value = "30s", value_parser = parse_span)]
    pub call_timeout: Duration,
}

impl GoogleArgs {
    pub fn config(&self) -> GcpConfig {
        GcpConfig {
            endpoints: Endpoints {
                all: self.endpoint.clone(),
                kms: self.kms_endpoint.clone(),
                logging: self.logging_endpoint.clone(),
                inventory: self.inventory_endpoint.clone(),
                resource_manager: self.resource_manager_endpoint.clone(),
            },
            credentials: match self.credentials {
                Credentials::Auto => CredentialsMode::Auto,
                Credentials::Anonymous => CredentialsMode::Anonymous,
                Credentials::Adc => CredentialsMode::Adc,
            },
            impersonate_service_account: self.impersonate_service_account.clone(),
            allow_insecure_endpoint: self.allow_insecure_endpoint,
            retry: RetryConfig {
                attempt_timeout: self.attempt_timeout,
                total_timeout: self.call_timeout,
                ..RetryConfig::default()
            },
        }
    }
}

impl InvestigateArgs {
    /// The Logging reads of this command. Build it once per process and give every
    /// investigation a clone: they share the per-project budget and combine their queries.
    pub fn log_reads(&self) -> LogReads {
        LogReads::new(LogReadsConfig {
            max_quota_wait: self.quota_wait,
            ..LogReadsConfig::default()
        })
    }

    /// The playbook's bounds, with the command line's overrides.
    pub fn options(&self, playbook: &crate::playbook::Playbook, log_reads: &LogReads) -> Options {
        Options {
            lookback: self
                .lookback
                .and_then(|d| jiff::SignedDuration::try_from(d).ok())
                .unwrap_or(playbook.lookback),
            max_pages: self.max_pages.unwrap_or(playbook.max_log_pages),
            log_reads: log_reads.clone(),
            ..Options::default()
        }
    }
}

/// `7d`, `36h`, `90m`, `30s`, `1500ms`.
pub fn parse_span(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration: use e.g. 7d, 36h, 90m, 30s, 1500ms"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?} has no unit: use d, h, m, s or ms (e.g. 7d)")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// The longest quota wait accepted: Logging's quota is per minute, so waiting longer than this
/// only delays a report that will show the same gap.
const MAX_QUOTA_WAIT: Duration = Duration::from_secs(3600);

/// `--quota-wait`: a duration (see [`parse_span`]) of at most an hour.
fn parse_quota_wait(s: &str) -> Result<Duration, String> {
    let d = parse_span(s)?;
    if d > MAX_QUOTA_WAIT {
        return Err(format!(
            "{:?} is longer than the 1h limit: Logging's quota refills every minute",
            s.trim()
        ));
    }
    Ok(d)
}

fn bundled_scenario(s: &str) -> Result<String, String> {
    if gcp_mock::BUNDLED.iter().any(|(n, _)| *n == s) {
        Ok(s.to_owned())
    } else {
        let names: Vec<&str> = gcp_mock::BUNDLED.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown scenario; choose one of: {}",
            names.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(parse_span("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_span("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_span("7").is_err());
        assert!(parse_span("d").is_err());
        assert!(parse_span("99999999999999999999d").is_err());
    }

    #[test]
    fn quota_waits() {
        assert_eq!(parse_quota_wait("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_quota_wait("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_quota_wait("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_quota_wait("61m").is_err_and(|e| e.contains("1h limit")));
        assert!(parse_quota_wait("30").is_err_and(|e| e.contains("no unit")));
        assert!(parse_quota_wait("-1s").is_err());
    }
}
