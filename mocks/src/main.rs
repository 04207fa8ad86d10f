//! `gcp-mock serve`: run the Google Cloud mock as a process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use gcp_mock::{FaultRule, MockConfig, MockServer, Quota, Scenario};

#[derive(Debug, Parser)]
#[command(
    name = "gcp-mock",
    version,
    about = "A stateful fake of the Google Cloud REST APIs kms-responder uses"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a scenario until interrupted; prints the bound address first.
    Serve {
        /// Scenario file (JSON), or the name of a bundled scenario.
        #[arg(long)]
        scenario: String,
        /// Address to bind; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        /// Latency added to every API answer, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Fault rule METHOD_ID=KIND[,times=N|,rate=P][,after=N][,retry-after=S]; repeatable.
        /// KIND: an HTTP status, hang, delay=MS, reset, malformed, truncated or hang-after-apply.
        #[arg(long = "fault", value_name = "RULE")]
        faults: Vec<FaultRule>,
        /// Logging read quota per project, e.g. 60/min (429 RESOURCE_EXHAUSTED past it).
        #[arg(long, value_name = "N/UNIT")]
        logging_quota: Option<Quota>,
        /// Principal written in audit entries when a request does not name one.
        #[arg(long, default_value = "mock-operator@example.com")]
        principal: String,
    },
    /// Check a scenario file and exit.
    Check { scenario: PathBuf },
    /// List the bundled scenarios.
    List,
}

fn load(spec: &str) -> Result<Scenario, String> {
    if let Some(bundled) = Scenario::bundled(spec) {
        return bundled.map_err(|e| e.to_string());
    }
    Scenario::load(std::path::Path::new(spec)).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for (name, _) in gcp_mock::BUNDLED {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        Command::Check { scenario } => match Scenario::load(&scenario) {
            Ok(s) => {
                println!(
                    "ok: {} key rings, {} keys, {} versions, {} policies, {} log entries, {} protected resources",
                    s.key_rings.len(),
                    s.crypto_keys.len(),
                    s.crypto_key_versions.len(),
                    s.iam_policies.len(),
                    s.log_entries.len(),
                    s.protected_resources.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Serve {
            scenario,
            addr,
            latency_ms,
            faults,
            logging_quota,
            principal,
        } => {
            let scenario = match load(&scenario) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let config = MockConfig {
                latency: Duration::from_millis(latency_ms),
                faults,
                logging_quota,
                default_principal: principal,
            };
            let server = match MockServer::start(scenario, config, addr).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: cannot bind {addr}: {e}");
                    return ExitCode::from(1);
                }
            };
            // The address is the one line a test harness reads to find the mock.
            println!("{}", server.url());
            let _ = tokio::signal::ctrl_c().await;
            server.shutdown().await;
            ExitCode::SUCCESS
        }
    }
}
