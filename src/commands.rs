//! Command glue: turn validated arguments into work and an exit code.

use std::io::{IsTerminal as _, Write};
use std::path::Path;

use anyhow::Context as _;
use jiff::Timestamp;

use crate::case::{Case, CaseOutcome};
use crate::cli::{Cli, Command, DemoArgs, InvestigateArgs, OutputArgs, PlaybookCommand};
use crate::exit::{self, UsageError};
use crate::findings::Verdict;
use crate::gcp::{Gcp, GcpConfig};
use crate::input::{self, Request};
use crate::investigate::{self, Options, Outcome};
use crate::playbook::{self, Playbook};
use crate::render::{self, Style};

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Investigate(args) => {
            let requests = read_inputs(&args)?;
            let jobs = plan(&requests, &args)?;
            let gcp = connect(&cli.google.config()).await?;
            let outcomes = investigate_all(&gcp, jobs).await;
            write_report(&args.output, &outcomes)?;
            Ok(exit_code(&outcomes))
        }
        Command::Demo(args) => demo(&cli.google.config(), &args).await,
        Command::Respond(args) => {
            crate::respond::respond_command(&cli.google.config(), &args).await
        }
        Command::Undo(args) => crate::respond::undo_command(&cli.google.config(), &args).await,
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&render::json_schema())?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{schema}")?;
            Ok(exit::OK)
        }
        Command::Playbook(PlaybookCommand::Check { file }) => {
            match playbook::check_command(&file) {
                Ok(line) => {
                    println!("{line}");
                    Ok(exit::OK)
                }
                Err(e) => Err(UsageError::new(
                    e.to_string(),
                    "fix the playbook at the position shown; see playbooks/README.md",
                )
                .into()),
            }
        }
    }
}

pub(crate) async fn connect(config: &GcpConfig) -> anyhow::Result<Gcp> {
    Gcp::connect(config).await.map_err(|e| match e {
        crate::gcp::GcpError::Config(m) => anyhow::Error::new(UsageError::new(
            m,
            "check --endpoint / KMS_RESPONDER_ENDPOINT and --credentials; see kms-responder --help",
        )),
        other => anyhow::Error::new(other).context("cannot set up the Google Cloud clients"),
    })
}

/// Inputs become validated requests before anything is sent to Google.
pub(crate) fn read_inputs(args: &InvestigateArgs) -> anyhow::Result<Vec<Request>> {
    let mut requests = Vec::new();
    const WHAT: &str =
        "give a file, `-` for stdin, or a key name projects/P/locations/L/keyRings/R/cryptoKeys/K";
    let refused = |e: input::InputError| {
        let hint = match e {
            input::InputError::Read { .. } => WHAT.to_owned(),
            _ => format!("accepted: {}", input::ACCEPTED_FORMS),
        };
        UsageError::new(e.to_string(), hint)
    };
    for raw in &args.inputs {
        // Files and stdin are read through `read_bounded`: a huge input is refused one byte
        // past the cap, without being read whole into memory.
        let (origin, text) = if raw == "-" {
            let text = input::read_bounded("stdin", std::io::stdin().lock()).map_err(refused)?;
            ("stdin".to_owned(), text)
        } else if raw.starts_with("projects/") || raw.starts_with("//cloudkms.googleapis.com/") {
            (format!("argument {raw:?}"), raw.clone())
        } else {
            let file = std::fs::File::open(Path::new(raw))
                .map_err(|e| UsageError::new(format!("cannot read {raw}: {e}"), WHAT))?;
            let text = input::read_bounded(raw, file).map_err(refused)?;
            (raw.clone(), text)
        };
        let parsed = input::parse(&origin, &text).map_err(refused)?;
        requests.extend(parsed);
    }
    Ok(requests)
}

/// One request with the playbook and bounds that apply to it.
pub(crate) struct Job {
    pub(crate) request: Request,
    pub(crate) playbook: Playbook,
    pub(crate) options: Options,
}

/// Chooses each request's playbook (the one given, or the bundled one for its
/// alert type) before any call is made, so a bad playbook changes nothing.
pub(crate) fn plan(requests: &[Request], args: &InvestigateArgs) -> anyhow::Result<Vec<Job>> {
    let explicit = match &args.playbook {
        Some(path) => Some(playbook::load(path).map_err(|e| {
            UsageError::new(
                e.to_string(),
                "fix the playbook at the position shown, or drop --playbook for the bundled one",
            )
        })?),
        None => None,
    };
    // One for the whole command: every investigation shares the Logging budget and quota waits.
    let log_reads = args.log_reads();
    requests
        .iter()
        .map(|request| {
            let playbook = match &explicit {
                Some(p) => p.clone(),
                None => playbook::for_alert_type(request.alert_type.as_deref()).map_err(|e| {
                    UsageError::new(e.to_string(), "pass --playbook FILE for this alert type")
                })?,
            };
            let options = args.options(&playbook, &log_reads);
            Ok(Job {
                request: request.clone(),
                playbook,
                options,
            })
        })
        .collect()
}

/// Investigates every request concurrently and assesses each key found.
pub(crate) async fn investigate_all(gcp: &Gcp, jobs: Vec<Job>) -> Vec<CaseOutcome> {
    let now = Timestamp::now();
    let progress = Progress::start(jobs.len());
    let runs = jobs.iter().map(|job| async move {
        let outcome = investigate::run(gcp, &job.request, &job.options, now).await;
        (job, outcome)
    });
    // Every job shares one `LogReads`. Its combined Logging queries wait until every
    // investigation has been started (the first poll of `join_all` starts them all, and each
    // submits its queries then), so a project's query carries all of the batch's keys however
    // long starting them takes.
    let hold = jobs.first().map(|j| j.options.log_reads.hold());
    let mut all = std::pin::pin!(futures::future::join_all(runs));
    let done = match futures::poll!(all.as_mut()) {
        std::task::Poll::Ready(done) => done,
        std::task::Poll::Pending => {
            drop(hold);
            all.await
        }
    };
    progress.stop();
    let mut outcomes = Vec::new();
    for (job, outcome) in done {
        match outcome {
            Outcome::Investigated(list) => {
                for investigation in list {
                    let assessment = crate::assess::assess(&investigation, &job.playbook);
                    outcomes.push(CaseOutcome::Case(Box::new(Case {
                        investigation,
                        assessment,
                    })));
                }
            }
            Outcome::NoKeyFound {
                request,
                search,
                detail,
            } => {
                outcomes.push(CaseOutcome::NoKeyFound {
                    request,
                    search,
                    detail,
                });
            }
        }
    }
    outcomes
}

/// 4 when any verdict is suspicious or malicious, else 3 when evidence is missing (an
/// inconclusive verdict always is), else 0.
fn exit_code(outcomes: &[CaseOutcome]) -> u8 {
    let cases = outcomes.iter().filter_map(|o| match o {
        CaseOutcome::Case(c) => Some(c),
        CaseOutcome::NoKeyFound { .. } => None,
    });
    let mut code = exit::OK;
    for c in cases {
        if matches!(
            c.assessment.verdict,
            Verdict::Suspicious | Verdict::Malicious
        ) {
            return exit::FINDINGS;
        }
        if !c.investigation.gaps.is_empty() || c.assessment.verdict == Verdict::Inconclusive {
            code = exit::INCOMPLETE;
        }
    }
    code
}

fn write_report(output: &OutputArgs, outcomes: &[CaseOutcome]) -> anyhow::Result<()> {
    let now = Timestamp::now();
    match &output.file {
        Some(path) => {
            let mut buf = Vec::new();
            render::write(&mut buf, output.format, outcomes, now, Style::PLAIN)?;
            std::fs::write(path, buf)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            eprintln!("report written to {}", path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let style = Style::detect(stdout.is_terminal());
            // Stdout is line-buffered: a batch's JSON report (tens of thousands of lines)
            // would otherwise cost one write call per line.
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            render::write(&mut out, output.format, outcomes, now, style)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// A spinner on stderr while calls are in flight, only when stderr is a terminal.
struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn start(requests: usize) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { task: None };
        }
        let task = tokio::spawn(async move {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            let started = std::time::Instant::now();
            for i in 0usize.. {
                eprint!(
                    "\r{} investigating {requests} input(s)… {:.1}s",
                    FRAMES[i % FRAMES.len()],
                    started.elapsed().as_secs_f32()
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
        Progress { task: Some(task) }
    }

    fn stop(self) {
        if let Some(task) = self.task {
            task.abort();
            eprint!("\r\x1b[2K");
        }
    }
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
    let mut jobs = Vec::new();
    for request in requests {
        let playbook = playbook::for_alert_type(request.alert_type.as_deref())
            .context("the bundled playbook")?;
        let options = Options {
            lookback: playbook.lookback,
            max_pages: playbook.max_log_pages,
            ..Options::default()
        };
        jobs.push(Job {
            request,
            playbook,
            options,
        });
    }
    let outcomes = investigate_all(&gcp, jobs).await;
    write_report(&args.output, &outcomes)?;
    crate::respond::demo_dry_run(&gcp, &outcomes, &args.output).await?;
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
