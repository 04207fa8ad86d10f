//! Command glue: turn validated arguments into work and an exit code.

use std::io::{IsTerminal as _, Read as _, Write};

use anyhow::Context as _;
use jiff::Timestamp;

use crate::cli::{Cli, Command, DemoArgs, InvestigateArgs, OutputArgs};
use crate::exit::{self, UsageError};
use crate::gcp::{Gcp, GcpConfig};
use crate::input::{self, Request};
use crate::investigate::{self, Options, Outcome};
use crate::report;

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Investigate(args) => {
            let requests = read_inputs(&args)?;
            let gcp = connect(&cli.google.config()).await?;
            investigate_and_report(&gcp, &requests, &args.options(), &args.output).await
        }
        Command::Demo(args) => demo(&cli.google.config(), &args).await,
    }
}

async fn connect(config: &GcpConfig) -> anyhow::Result<Gcp> {
    Gcp::connect(config).await.map_err(|e| match e {
        crate::gcp::GcpError::Config(m) => anyhow::Error::new(UsageError::new(
            m,
            "check --endpoint / KMS_RESPONDER_ENDPOINT and --credentials; see kms-responder --help",
        )),
        other => anyhow::Error::new(other).context("cannot set up the Google Cloud clients"),
    })
}

/// Inputs become validated requests before anything is sent to Google.
fn read_inputs(args: &InvestigateArgs) -> anyhow::Result<Vec<Request>> {
    let mut requests = Vec::new();
    for raw in &args.inputs {
        let (origin, text) = if raw == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read stdin")?;
            ("stdin".to_owned(), s)
        } else if raw.starts_with("projects/") || raw.starts_with("//cloudkms.googleapis.com/") {
            (format!("argument {raw:?}"), raw.clone())
        } else {
            let path = std::path::Path::new(raw);
            let text = std::fs::read_to_string(path).map_err(|e| {
                UsageError::new(
                    format!("cannot read {raw}: {e}"),
                    "give a file, `-` for stdin, or a key name projects/P/locations/L/keyRings/R/cryptoKeys/K",
                )
            })?;
            (raw.clone(), text)
        };
        let parsed = input::parse(&origin, &text).map_err(|e| {
            UsageError::new(
                e.to_string(),
                format!("accepted: {}", input::ACCEPTED_FORMS),
            )
        })?;
        requests.extend(parsed);
    }
    Ok(requests)
}

async fn investigate_and_report(
    gcp: &Gcp,
    requests: &[Request],
    options: &Options,
    output: &OutputArgs,
) -> anyhow::Result<u8> {
    let now = Timestamp::now();
    let progress = std::io::stderr().is_terminal();
    if progress {
        eprint!("investigating {} request(s)…", requests.len());
    }
    let runs = requests
        .iter()
        .map(|r| investigate::run(gcp, r, options, now));
    let outcomes: Vec<Outcome> = futures::future::join_all(runs).await;
    if progress {
        eprint!("\r\x1b[2K");
    }
    write_report(output, &outcomes, now)?;
    let incomplete = outcomes.iter().any(|o| match o {
        Outcome::Investigated(list) => list.iter().any(|i| !i.gaps.is_empty()),
        Outcome::NoKeyFound { .. } => false,
    });
    Ok(if incomplete {
        exit::INCOMPLETE
    } else {
        exit::OK
    })
}

fn write_report(output: &OutputArgs, outcomes: &[Outcome], now: Timestamp) -> anyhow::Result<()> {
    match &output.file {
        Some(path) => {
            let mut buf = Vec::new();
            report::write(&mut buf, output.format, outcomes, now)?;
            std::fs::write(path, buf)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("report written to {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            report::write(&mut lock, output.format, outcomes, now)?;
            lock.flush()?;
        }
    }
    Ok(())
}

/// Starts the embedded mock with a bundled scenario and investigates its
/// alert through the real clients, exactly as against Google.
async fn demo(base: &GcpConfig, args: &DemoArgs) -> anyhow::Result<u8> {
    let scenario = gcp_mock::Scenario::bundled(&args.scenario)
        .ok_or_else(|| {
            UsageError::new(
                format!("unknown scenario {:?}", args.scenario),
                "run `gcp-mock list`",
            )
        })?
        .context("the bundled scenario is invalid")?;
    let alert = gcp_mock::BUNDLED_ALERTS
        .iter()
        .find(|(n, _)| *n == args.scenario)
        .map(|(_, a)| *a)
        .context("the bundled scenario has no alert")?;
    let server = gcp_mock::MockServer::start(
        scenario,
        gcp_mock::MockConfig::default(),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .context("cannot start the embedded mock")?;
    eprintln!(
        "demo: scenario {} served by the embedded Google Cloud mock at {}",
        args.scenario,
        server.url()
    );
    let mut config = base.clone();
    config.endpoints = crate::gcp::Endpoints {
        all: Some(server.url()),
        ..Default::default()
    };
    config.credentials = crate::gcp::CredentialsMode::Anonymous;
    let gcp = connect(&config).await?;
    let requests = input::parse(
        &format!("mocks/scenarios/{}.alert.json", args.scenario),
        alert,
    )
    .context("the bundled alert does not parse")?;
    investigate_and_report(&gcp, &requests, &Options::default(), &args.output).await?;
    let calls = server.requests();
    let writes = calls.iter().filter(|c| c.mutating).count();
    eprintln!(
        "demo: {} requests to the mock, {} of them mutating",
        calls.len(),
        writes
    );
    server.shutdown().await;
    Ok(exit::OK)
}
