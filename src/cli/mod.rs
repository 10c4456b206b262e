//! The `cab` command line: parse, build the backend, run one command, print text or JSON,
//! and exit with the code SPEC section 3 gives.

pub mod args;
pub mod exit;
pub mod generate;
pub mod render;
pub mod table;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde::Serialize;

use crate::backend::{Backend, LocalBackend};
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::engine::audit::{self, AuditRecord};
use crate::engine::error::ErrorCode;
use crate::engine::{Review, Submission, Verdict, time};
use crate::store::FileStore;
use crate::untrusted::{self, json};
use args::{AuditCmd, AuditFormat, Cli, Cmd, ExceptionCmd, TokenCmd};
use exit::CliError;

/// Run the command line with the process's arguments; the exit code to end with.
pub fn run() -> ExitCode {
    ignore_file_size_signal();
    let wants_json = std::env::args_os().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, wants_json),
    };
    let json_out = cli.json;
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            report(&err, json_out);
            ExitCode::from(err.exit_code())
        }
    }
}

/// A write past the file-size limit (`ulimit -f`) would kill the process with SIGXFSZ and
/// leave half a line; ignored, it fails with EFBIG instead, which the store reports and undoes
/// like a full disk (SPEC section 2: one sentence, exit 1, never a signal).
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN runs no code in the handler's place;
    // it only changes what the kernel does with the signal. cab starts no other programs that
    // could inherit it.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn usage_error(e: clap::Error, wants_json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                exit::INVALID
            } else {
                exit::OK
            },
        );
    }
    // Like every other error: one sentence on stderr (and in the JSON body), not clap's
    // multi-line block with its usage summary.
    let sentence = usage_sentence(&e);
    eprintln!("cab: {}", untrusted::line(&sentence));
    if wants_json {
        print_json_error(ErrorCode::Usage, &sentence, None);
    }
    ExitCode::from(exit::INVALID)
}

/// clap's message as one line: its first line, with the details listed under it (missing
/// arguments, possible values, tips) appended, and without the usage summary and help hint.
fn usage_sentence(e: &clap::Error) -> String {
    // `to_string` of the rendered message carries no terminal styling.
    let rendered = e.render().to_string();
    let mut sentence = String::new();
    for line in rendered.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("Usage:") || line.starts_with("For more information")
        {
            continue;
        }
        let line = line.trim_start_matches("error: ");
        if sentence.is_empty() {
            sentence.push_str(line);
        } else if sentence.ends_with(':') || line.starts_with('[') {
            sentence.push(' ');
            sentence.push_str(line);
        } else {
            sentence.push_str("; ");
            sentence.push_str(line);
        }
    }
    // Say where to look, for the command that was typed (clap's own hint line is dropped).
    let command = typed_subcommands();
    let help = if command.is_empty() {
        "cab --help".to_string()
    } else {
        format!("cab {} --help", command.join(" "))
    };
    if sentence.is_empty() {
        sentence.push_str("invalid usage");
    }
    sentence.push_str(&format!(" (see `{}`)", untrusted::line(&help)));
    sentence
}

/// The subcommands named on the command line (`exception create`), by clap's own grammar.
fn typed_subcommands() -> Vec<String> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut names = Vec::new();
    for arg in std::env::args().skip(1) {
        let Some(sub) = command.find_subcommand(&arg).cloned() else {
            continue;
        };
        names.push(arg);
        command = sub;
    }
    names
}

fn report(err: &CliError, json_out: bool) {
    let message = untrusted::line(&err.to_string()).into_owned();
    eprintln!("cab: {message}");
    if json_out {
        print_json_error(err.code(), &err.to_string(), err.line());
    }
}

fn print_json_error(code: ErrorCode, message: &str, line: Option<u64>) {
    #[derive(Serialize)]
    struct Body<'a> {
        error: Detail<'a>,
    }
    #[derive(Serialize)]
    struct Detail<'a> {
        code: ErrorCode,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u64>,
    }
    let body = Body {
        error: Detail {
            code,
            message,
            line,
        },
    };
    if let Ok(text) = json::to_string_pretty(&body) {
        let _ = writeln!(io::stdout().lock(), "{text}");
    }
}

/// Everything a command needs to know about where it runs.
struct Env {
    json: bool,
    clock: Clock,
    config: Config,
    store_path: Option<PathBuf>,
    remote: Option<String>,
    token: Option<String>,
}

impl Env {
    fn store_path(&self) -> Result<PathBuf, CliError> {
        self.store_path.clone().ok_or_else(|| {
            CliError::Invalid(
                "no store path: give --store PATH or set CAB_STORE (no platform data folder was found)".into(),
            )
        })
    }

    fn local(&self) -> Result<LocalBackend, CliError> {
        let actor = self.config.actor(
            std::env::var("CAB_USER").ok(),
            std::env::var("CAB_ROLES").ok(),
        )?;
        Ok(LocalBackend::new(
            FileStore::new(self.store_path()?),
            actor,
            self.config.policy()?,
            self.clock,
        ))
    }

    fn backend(&self) -> Result<Box<dyn Backend>, CliError> {
        if let Some(remote) = self.remote()? {
            return Ok(Box::new(remote));
        }
        Ok(Box::new(self.local()?))
    }

    /// The server client, when a server is named (`--remote`, `CAB_REMOTE`, `[remote] url`).
    fn remote(&self) -> Result<Option<crate::remote::RemoteBackend>, CliError> {
        match &self.remote {
            Some(url) => Ok(Some(crate::remote::RemoteBackend::new(
                url,
                self.token.clone(),
            )?)),
            None => Ok(None),
        }
    }

    /// Commands that work on a store file only.
    fn local_only(&self, command: &str) -> Result<FileStore, CliError> {
        if let Some(url) = &self.remote {
            return Err(crate::backend::BackendError::Unsupported(format!(
                "cab {command} works on a local store file, not on a server ({url}); run it where the store is"
            ))
            .into());
        }
        Ok(FileStore::new(self.store_path()?))
    }

    /// Print a value as JSON, or the text for people.
    fn print<T: Serialize + ?Sized>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        let out = if self.json {
            let mut s = json::to_string_pretty(value).map_err(io::Error::other)?;
            s.push('\n');
            s
        } else {
            text()
        };
        emit(&out)
    }
}

fn emit(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn write_out(bytes: &[u8]) -> Result<u8, CliError> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(exit::OK)
}

fn notices(backend: &dyn Backend) {
    for n in backend.take_notices() {
        eprintln!("cab: note: {}", untrusted::line(&n));
    }
}

fn execute(cli: Cli) -> Result<u8, CliError> {
    // Generated from the definitions alone: a broken config must not stop a package build.
    match &cli.command {
        Some(Cmd::Completions { shell }) => return write_out(&generate::completions(*shell)?),
        Some(Cmd::Man) => return write_out(&generate::man()?),
        _ => {}
    }
    let clock = Clock::from_env()?;
    let config = Config::load(cli.config.as_deref().filter(|p| !p.as_os_str().is_empty()))?;
    let env = Env {
        json: cli.json,
        clock,
        store_path: cli
            .store
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| config.store.clone())
            .or_else(config::default_store_path),
        remote: cli
            .remote
            .clone()
            .filter(|r| !r.trim().is_empty())
            .or_else(|| config.remote.url.clone()),
        token: cli
            .token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| config.remote.token.clone()),
        config,
    };
    let Some(command) = cli.command else {
        return console(&env, cli.demo, cli.read_only);
    };
    if cli.demo || cli.read_only {
        return Err(CliError::Invalid(format!(
            "{} opens the console and does not go with a command; run `cab {}` alone",
            if cli.demo { "--demo" } else { "--read-only" },
            if cli.demo { "--demo" } else { "--read-only" },
        )));
    }
    let now = || env.clock.now();
    match command {
        Cmd::Submit(a) => {
            let backend = env.backend()?;
            let submission = Submission {
                risk_score: parse_score(&a.risk)?,
                risk_factors: parse_factors(&a.factors)?,
                deployment_intent_id: a.deployment,
                evidence_package_id: a.evidence,
                title: a.title,
                correlation_id: a.correlation_id,
            };
            let result = backend.submit(submission);
            notices(backend.as_ref());
            let view = result?;
            env.print(&view, || render::request_summary("Submitted", &view, now()))?;
        }
        Cmd::Queue { status } => {
            let backend = env.backend()?;
            let result = backend.requests(status, None);
            notices(backend.as_ref());
            let views = result?;
            env.print(&views, || {
                if views.is_empty() {
                    match status {
                        crate::engine::RequestFilter::Pending => {
                            "Nothing is waiting: no request is under review or needs an exception.\n".to_string()
                        }
                        crate::engine::RequestFilter::All => "There are no requests yet.\n".to_string(),
                        other => format!("No request is {}.\n", other.as_str()),
                    }
                } else {
                    render::request_table(&views, now())
                }
            })?;
        }
        Cmd::Show { id } => {
            let backend = env.backend()?;
            let result = backend.request(&id);
            notices(backend.as_ref());
            let detail = result?;
            env.print(&detail, || render::request_detail(&detail, now()))?;
        }
        Cmd::Approve {
            id,
            rationale,
            conditions,
        } => {
            let backend = env.backend()?;
            let conditional = !conditions.is_empty();
            let result = backend.decide(&id, Verdict::Approve { conditions }, &rationale);
            notices(backend.as_ref());
            let view = result?;
            let verb = if conditional {
                "Approved with conditions"
            } else {
                "Approved"
            };
            env.print(&view, || render::request_summary(verb, &view, now()))?;
        }
        Cmd::Reject { id, rationale } => {
            let backend = env.backend()?;
            let result = backend.decide(&id, Verdict::Reject, &rationale);
            notices(backend.as_ref());
            let view = result?;
            env.print(&view, || render::request_summary("Rejected", &view, now()))?;
        }
        Cmd::Exception(cmd) => exception(&env, cmd)?,
        Cmd::Status(a) => {
            let backend = env.backend()?;
            let result = backend.status(&a.deployment, a.ring);
            notices(backend.as_ref());
            let view = result?;
            env.print(&view, || render::status(&view, now()))?;
        }
        Cmd::Gate(a) => {
            let backend = env.backend()?;
            let result = backend.status(&a.deployment, a.ring);
            notices(backend.as_ref());
            let view = result?;
            env.print(&view, || render::gate(&view))?;
            if !view.eligible {
                return Ok(exit::NOT_ELIGIBLE);
            }
        }
        Cmd::Cleanup => {
            let backend = env.backend()?;
            let result = backend.cleanup();
            notices(backend.as_ref());
            let report = result?;
            env.print(&report, || render::cleanup(&report, now()))?;
        }
        Cmd::Verify => {
            if let Some(remote) = env.remote()? {
                return verify_remote(&env, &remote);
            }
            let store = env.local_only("verify")?;
            let report = store.verify()?;
            #[derive(Serialize)]
            struct Torn {
                line: u64,
                offset: u64,
                bytes: u64,
            }
            #[derive(Serialize)]
            struct Out<'a> {
                ok: bool,
                store: String,
                events: u64,
                requests: usize,
                exceptions: usize,
                bytes: u64,
                head_hash: &'a str,
                torn_tail: Option<Torn>,
            }
            let out = Out {
                ok: true,
                store: store.path().display().to_string(),
                events: report.events,
                requests: report.requests,
                exceptions: report.exceptions,
                bytes: report.bytes,
                head_hash: &report.head_hash,
                torn_tail: report.torn.map(|t| Torn {
                    line: t.line,
                    offset: t.offset,
                    bytes: t.len,
                }),
            };
            env.print(&out, || render::verify(store.path(), &report))?;
        }
        Cmd::Audit(AuditCmd::Export { format, since }) => {
            let since = since.as_deref().map(parse_since).transpose()?;
            let backend = env.backend()?;
            let result = backend.all_events();
            notices(backend.as_ref());
            let events = result?;
            let records = audit::records(&events, since);
            emit(&audit_output(&records, format)?)?;
        }
        Cmd::Demo { requests, seed } => {
            let store = env.local_only("demo")?;
            let started = Instant::now();
            let policy = env.config.policy()?;
            let summary = crate::demo::fill(&store, requests, seed, now(), &policy)?;
            let seconds = started.elapsed().as_secs_f64();
            env.print(&summary, || {
                format!(
                    "Wrote {} requests and {} exceptions ({} events) to {} in {seconds:.1} s.\nTry: cab --store {} queue\n",
                    summary.requests,
                    summary.exceptions,
                    summary.events,
                    untrusted::line(&store.path().display().to_string()),
                    untrusted::line(&store.path().display().to_string()),
                )
            })?;
        }
        Cmd::Serve { listen } => serve(&env, listen)?,
        Cmd::Token(TokenCmd::New { name, roles }) => token_new(&env, &name, &roles)?,
        Cmd::Completions { .. } | Cmd::Man => {}
    }
    Ok(exit::OK)
}

/// `cab serve`: the HTTP API over the local store, until SIGTERM or Ctrl-C.
fn serve(env: &Env, listen: Option<String>) -> Result<(), CliError> {
    let store = env.local_only("serve")?;
    let users = crate::server::auth::Users::from_config(&env.config.server.users)
        .map_err(CliError::Invalid)?;
    let listen = listen
        .or_else(|| env.config.server.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let path = store.path().display().to_string();
    let count = users.len();
    crate::server::init_logging();
    let local = crate::backend::LocalStore::new(store, env.config.policy()?, env.clock);
    let limits = crate::server::Limits::from_config(&env.config.server);
    crate::server::serve_with(local, users, limits, &listen, |addr| {
        eprintln!(
            "cab serve: listening on http://{addr} (store {}, {count} user{})",
            untrusted::line(&path),
            if count == 1 { "" } else { "s" }
        );
    })
    .map_err(|e| match e {
        crate::server::ServeError::Bind { .. } => {
            CliError::Backend(crate::backend::BackendError::Unreachable(e.to_string()))
        }
        other => CliError::Output(io::Error::other(other.to_string())),
    })
}

/// `cab token new`: a fresh token, shown once, and the config block that lets it in.
fn token_new(env: &Env, name: &str, roles: &[String]) -> Result<(), CliError> {
    let roles: Vec<crate::engine::Role> = roles
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, crate::engine::Invalid>>()?;
    let actor = crate::engine::Actor::new(name, roles.iter().copied())?;
    let token = crate::server::auth::new_token();
    let hash = crate::server::auth::token_sha256(&token);
    let role_list = roles
        .iter()
        .map(|r| format!("\"{}\"", r.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let block = format!(
        "[[server.users]]\nname = {}\nroles = [{role_list}]\ntoken_sha256 = \"{hash}\"\n",
        toml_string(&actor.name)
    );
    #[derive(Serialize)]
    struct Out<'a> {
        name: &'a str,
        roles: Vec<&'static str>,
        token: &'a str,
        token_sha256: &'a str,
        config: &'a str,
    }
    env.print(
        &Out {
            name: &actor.name,
            roles: roles.iter().map(|r| r.as_str()).collect(),
            token: &token,
            token_sha256: &hash,
            config: &block,
        },
        || {
            format!(
                "Token for {} (shown once; the server keeps only its hash):\n\n  {token}\n\nAdd this to the server's config file:\n\n{block}\nand give the token to {} for CAB_TOKEN or [remote] token.\n",
                untrusted::line(&actor.name),
                untrusted::line(&actor.name)
            )
        },
    )
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `cab verify --remote`: fetch every event and check it as `cab verify` checks a file: its
/// place in the hash chain, its hash recomputed from its canonical line, and every rule
/// re-judged against the events before it.
fn verify_remote(env: &Env, remote: &crate::remote::RemoteBackend) -> Result<u8, CliError> {
    let events = remote.all_events()?;
    let mut prev = crate::store::line::GENESIS.to_string();
    let mut state = crate::engine::State::new();
    for (i, e) in events.iter().enumerate() {
        let expected = i as u64 + 1;
        let problem = crate::store::line::check_event(e, expected, &prev)
            .map_err(|e| e.to_string())
            .and_then(|()| crate::engine::admit(&mut state, expected, e.event.clone()));
        if let Err(problem) = problem {
            return Err(crate::backend::BackendError::Inconsistent(format!(
                "the server {} fails verification at event {expected}: {problem}",
                remote.url()
            ))
            .into());
        }
        prev = e.hash.clone();
    }
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        server: &'a str,
        events: usize,
        head_hash: &'a str,
    }
    env.print(
        &Out {
            ok: true,
            server: remote.url(),
            events: events.len(),
            head_hash: &prev,
        },
        || {
            format!(
                "ok: the server {} has an intact chain of {} event{}\nhead hash: {prev}\n",
                untrusted::line(remote.url()),
                events.len(),
                if events.len() == 1 { "" } else { "s" }
            )
        },
    )?;
    Ok(exit::OK)
}

/// How many requests `cab --demo` generates: enough for a realistic queue, instant to make.
const CONSOLE_DEMO_REQUESTS: usize = 500;

/// `cab` alone: the console on the configured backend; `cab --demo`: on a new demo store.
fn console(env: &Env, demo: bool, read_only_flag: bool) -> Result<u8, CliError> {
    use std::io::IsTerminal;
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(CliError::Invalid(
            "the console needs a terminal (stdin and stdout are not one); scripts use the commands, see `cab --help`".into(),
        ));
    }
    let console_config = &env.config.console;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = crate::console::Theme::from_settings(
        console_config.theme,
        &console_config.colors,
        no_color,
    );
    let (read_only, read_only_reason) = if read_only_flag {
        (true, "opened with --read-only")
    } else if console_config.read_only {
        (true, "read_only = true in the config file")
    } else {
        (false, "")
    };
    let mut demo_dir = None;
    let backend: std::sync::Arc<dyn Backend> = if demo {
        let dir = tempfile::Builder::new()
            .prefix("cab-demo-")
            .tempdir()
            .map_err(CliError::Output)?;
        let store = FileStore::new(dir.path().join("store.jsonl"));
        let policy = env.config.policy()?;
        crate::demo::fill(&store, CONSOLE_DEMO_REQUESTS, 1, env.clock.now(), &policy)?;
        // A first look should let you try every action: unless roles are set, you hold both.
        let mut actor = env.config.actor(
            std::env::var("CAB_USER").ok(),
            std::env::var("CAB_ROLES").ok(),
        )?;
        if std::env::var_os("CAB_ROLES").is_none() && env.config.identity.roles.is_empty() {
            actor.roles.insert(crate::engine::Role::CabMember);
            actor.roles.insert(crate::engine::Role::SecurityReviewer);
        }
        demo_dir = Some(dir);
        std::sync::Arc::new(LocalBackend::new(store, actor, policy, env.clock))
    } else {
        std::sync::Arc::from(env.backend()?)
    };
    crate::console::run(
        backend,
        crate::console::Options {
            read_only,
            read_only_reason,
            theme,
            clock: env.clock,
        },
    )?;
    if demo_dir.is_some() {
        eprintln!(
            "cab: the demo store was temporary and is gone; keep one with `cab --store demo.jsonl demo`"
        );
    }
    Ok(exit::OK)
}

fn exception(env: &Env, cmd: ExceptionCmd) -> Result<(), CliError> {
    let now = || env.clock.now();
    let backend = env.backend()?;
    match cmd {
        ExceptionCmd::Create {
            request_id,
            justification,
            controls,
            days,
        } => {
            let days = days.as_deref().map(parse_days).transpose()?;
            let result = backend.request_exception(&request_id, &justification, controls, days);
            notices(backend.as_ref());
            let view = result?;
            env.print(&view, || {
                let mut text = render::exception_summary("Requested", &view, now());
                text.push_str(&format!(
                    "\nNext: a security reviewer reviews it, e.g. cab exception approve {} --rationale \"...\"\n",
                    view.exception.short_id()
                ));
                text
            })
        }
        ExceptionCmd::Approve { id, rationale } => {
            review_exception(env, backend.as_ref(), &id, Review::Approve, &rationale)
        }
        ExceptionCmd::Reject { id, rationale } => {
            review_exception(env, backend.as_ref(), &id, Review::Reject, &rationale)
        }
        ExceptionCmd::List { status } => {
            let result = backend.exceptions(status);
            notices(backend.as_ref());
            let views = result?;
            env.print(&views, || {
                if views.is_empty() && status == crate::engine::ExceptionFilter::All {
                    "There are no exceptions yet.\n".to_string()
                } else if views.is_empty() {
                    format!("No exception is {}.\n", status.as_str())
                } else {
                    render::exception_table(&views, now())
                }
            })
        }
    }
}

fn review_exception(
    env: &Env,
    backend: &dyn Backend,
    id: &str,
    review: Review,
    rationale: &str,
) -> Result<(), CliError> {
    let result = backend.review_exception(id, review, rationale);
    notices(backend);
    let view = result?;
    let verb = match review {
        Review::Approve => "Approved",
        Review::Reject => "Rejected",
    };
    env.print(&view, || {
        render::exception_summary(verb, &view, env.clock.now())
    })
}

fn parse_score(text: &str) -> Result<f64, CliError> {
    text.trim().parse::<f64>().map_err(|_| {
        CliError::Invalid(format!(
            "risk score must be a number from 0 to 100, got {:?}",
            untrusted::line(text)
        ))
    })
}

fn parse_days(text: &str) -> Result<i64, CliError> {
    text.trim().parse::<i64>().map_err(|_| {
        CliError::Invalid(format!(
            "--days must be a whole number of days from 1 to 90, got {:?}",
            untrusted::line(text)
        ))
    })
}

fn parse_factors(items: &[String]) -> Result<BTreeMap<String, f64>, CliError> {
    let mut factors = BTreeMap::new();
    for item in items {
        let (name, value) = item.split_once('=').ok_or_else(|| {
            CliError::Invalid(format!(
                "--factor takes NAME=VALUE, got {:?}",
                untrusted::line(item)
            ))
        })?;
        let value: f64 = value.trim().parse().map_err(|_| {
            CliError::Invalid(format!(
                "risk factor {:?} must be a number, got {:?}",
                untrusted::line(name),
                untrusted::line(value)
            ))
        })?;
        if factors.insert(name.trim().to_string(), value).is_some() {
            return Err(CliError::Invalid(format!(
                "risk factor {:?} is given twice",
                untrusted::line(name)
            )));
        }
    }
    Ok(factors)
}

/// A CSV cell cleaned for a terminal, with a leading `'` when its text (as given, or as
/// cleaned) begins like a spreadsheet formula: `=`, `+`, `-`, `@`, tab or carriage return.
fn no_formula(cell: &str) -> String {
    let starts_formula = |text: &str| {
        text.starts_with(['=', '+', '-', '@', '\t', '\r'])
            || text.trim_start().starts_with(['=', '+', '-', '@'])
    };
    let clean = untrusted::block(cell);
    if starts_formula(cell) || starts_formula(&clean) {
        format!("'{clean}")
    } else {
        clean.into_owned()
    }
}

fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    if let Ok(at) = time::parse(text) {
        return Ok(at);
    }
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
        .filter(|at| time::in_range(*at))
        .ok_or_else(|| {
            CliError::Invalid(format!(
                "--since takes an RFC 3339 time (2026-11-01T00:00:00Z) or a date (2026-11-01) in the years 2000 to 9000, got {:?}",
                untrusted::line(text)
            ))
        })
}

fn audit_output(records: &[AuditRecord], format: AuditFormat) -> Result<String, CliError> {
    match format {
        AuditFormat::Jsonl => {
            let mut out = Vec::with_capacity(records.len() * 400);
            for r in records {
                json::write_compact(&mut out, r).map_err(io::Error::other)?;
                out.push(b'\n');
            }
            Ok(String::from_utf8(out).unwrap_or_default())
        }
        AuditFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(AuditRecord::CSV_HEADER)
                .map_err(io::Error::other)?;
            for r in records {
                // CSV goes to terminals and spreadsheets: cells are cleaned like any text output,
                // and none can start a formula.
                let row = r.csv_row().map(|cell| no_formula(&cell));
                w.write_record(&row).map_err(io::Error::other)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| io::Error::other(e.to_string()))?;
            Ok(String::from_utf8(bytes).unwrap_or_default())
        }
    }
}
