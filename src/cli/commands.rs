//! One function per command (ripgrep's `try_main` style): `dispatch` names each command's
//! function, and each reads its arguments, asks the backend, and prints through `render`.
//! A new command is a variant in `args.rs`, a line in `dispatch`, a function here and its
//! text (and JSON, if it is not an engine view) in `render.rs`.

use std::io;
use std::time::Instant;

use serde::Serialize;

use super::args::{
    AuditCmd, AuditFormat, Cmd, DeploymentArgs, ExceptionCmd, OutcomeArgs, ReportArgs, StoreCmd,
    SubmitArgs, TokenCmd, WebhookCmd,
};
use super::exit::{self, CliError};
use super::{Env, emit, notices, parse, render};
use crate::backend::{Backend, LocalBackend};
use crate::engine::audit;
use crate::engine::{ExceptionFilter, RequestFilter, Review, Submission, Text, Verdict};
use crate::store::{FileStore, Store};
use crate::untrusted;

/// Run one command; the exit code when it succeeds.
pub fn dispatch(env: &Env, command: Cmd) -> Result<u8, CliError> {
    match command {
        Cmd::Submit(a) => submit(env, a),
        Cmd::Queue { status } => queue(env, status),
        Cmd::Show { id } => show(env, &id),
        Cmd::Approve {
            id,
            rationale,
            conditions,
        } => approve(env, &id, &rationale, conditions),
        Cmd::Reject { id, rationale } => reject(env, &id, &rationale),
        Cmd::Exception(cmd) => exception(env, cmd),
        Cmd::Outcome(a) => outcome(env, a),
        Cmd::Status(a) => status(env, a),
        Cmd::Gate(a) => gate(env, a),
        Cmd::Cleanup => cleanup(env),
        Cmd::Verify => verify(env),
        Cmd::Audit(AuditCmd::Export {
            format,
            since,
            follow,
        }) => audit_export(env, format, since, follow),
        Cmd::Report(a) => report(env, a),
        Cmd::Demo { requests, seed } => demo(env, requests, seed),
        Cmd::Serve { listen } => serve(env, listen),
        Cmd::Notify { follow } => super::webhooks::notify(env, follow),
        Cmd::Webhook(WebhookCmd::List) => super::webhooks::list(env),
        Cmd::Webhook(WebhookCmd::Test { name }) => super::webhooks::test(env, &name),
        Cmd::Token(TokenCmd::New { name, roles }) => token_new(env, &name, &roles),
        Cmd::Store(StoreCmd::Copy { from, to, dry_run }) => store_copy(env, from, to, dry_run),
        // Answered before the config is read (`cli::execute`).
        Cmd::Completions { .. } | Cmd::Man => Ok(exit::OK),
    }
}

/// Whether a command only reads, so that it answers as of a moment (`--at`). Any other
/// command is refused with `--at`: the past cannot be changed.
pub fn reads(command: &Cmd) -> bool {
    matches!(
        command,
        Cmd::Queue { .. }
            | Cmd::Show { .. }
            | Cmd::Exception(ExceptionCmd::List { .. })
            | Cmd::Status(_)
            | Cmd::Gate(_)
            | Cmd::Audit(AuditCmd::Export { .. })
            | Cmd::Report(_)
    )
}

/// The sequence most commands share: build the backend, make one call, pass on what the
/// backend noticed on the way (a retried connection, a quarantined torn line), hand back the
/// answer.
fn ask<T>(
    env: &Env,
    call: impl FnOnce(&dyn Backend) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let backend = env.backend()?;
    let result = call(backend.as_ref());
    notices(backend.as_ref());
    // One command, then the process ends: freeing a whole replayed store (half a second for
    // 200,000 requests) would only delay the exit. Everything it wrote is synced already.
    std::mem::forget(backend);
    result
}

/// [`ask`], then print the answer as JSON or as `text`.
fn ask_and_print<T: Serialize>(
    env: &Env,
    call: impl FnOnce(&dyn Backend) -> Result<T, CliError>,
    text: impl FnOnce(&T, chrono::DateTime<chrono::Utc>) -> String,
) -> Result<u8, CliError> {
    let answer = ask(env, call)?;
    env.print(&answer, || text(&answer, env.now()))?;
    Ok(exit::OK)
}

fn submit(env: &Env, a: SubmitArgs) -> Result<u8, CliError> {
    ask_and_print(
        env,
        |backend| {
            let submission = Submission {
                risk_score: parse::score(&a.risk)?,
                risk_factors: parse::factors(&a.factors)?.into(),
                deployment_intent_id: a.deployment.into(),
                evidence_package_id: a.evidence.into(),
                title: a.title.map(Text::from),
                correlation_id: a.correlation_id.map(Text::from),
            };
            Ok(backend.submit(submission)?)
        },
        |view, now| render::request_summary("Submitted", view, now),
    )
}

fn queue(env: &Env, status: RequestFilter) -> Result<u8, CliError> {
    ask_and_print(
        env,
        |backend| Ok(backend.requests(status, None)?),
        |views, now| render::queue(views, status, now),
    )
}

fn show(env: &Env, id: &str) -> Result<u8, CliError> {
    ask_and_print(
        env,
        |backend| Ok(backend.request(id)?),
        render::request_detail,
    )
}

fn approve(env: &Env, id: &str, rationale: &str, conditions: Vec<String>) -> Result<u8, CliError> {
    let verb = if conditions.is_empty() {
        "Approved"
    } else {
        "Approved with conditions"
    };
    ask_and_print(
        env,
        |backend| Ok(backend.decide(id, Verdict::Approve { conditions }, rationale)?),
        |view, now| render::request_summary(verb, view, now),
    )
}

fn reject(env: &Env, id: &str, rationale: &str) -> Result<u8, CliError> {
    ask_and_print(
        env,
        |backend| Ok(backend.decide(id, Verdict::Reject, rationale)?),
        |view, now| render::request_summary("Rejected", view, now),
    )
}

fn outcome(env: &Env, a: OutcomeArgs) -> Result<u8, CliError> {
    ask_and_print(
        env,
        |backend| {
            Ok(backend.record_outcome(
                &a.request_id,
                a.result,
                a.incident.as_deref(),
                a.note.as_deref(),
            )?)
        },
        render::outcome_recorded,
    )
}

fn exception(env: &Env, cmd: ExceptionCmd) -> Result<u8, CliError> {
    match cmd {
        ExceptionCmd::Create {
            request_id,
            justification,
            controls,
            days,
        } => ask_and_print(
            env,
            |backend| {
                let days = days.as_deref().map(parse::days).transpose()?;
                Ok(backend.request_exception(&request_id, &justification, controls, days)?)
            },
            render::exception_requested,
        ),
        ExceptionCmd::Approve { id, rationale } => {
            review_exception(env, &id, Review::Approve, &rationale)
        }
        ExceptionCmd::Reject { id, rationale } => {
            review_exception(env, &id, Review::Reject, &rationale)
        }
        ExceptionCmd::List { status } => exception_list(env, status),
    }
}

fn review_exception(env: &Env, id: &str, review: Review, rationale: &str) -> Result<u8, CliError> {
    let verb = match review {
        Review::Approve => "Approved",
        Review::Reject => "Rejected",
    };
    ask_and_print(
        env,
        |backend| Ok(backend.review_exception(id, review, rationale)?),
        |view, now| render::exception_summary(verb, view, now),
    )
}

fn exception_list(env: &Env, status: ExceptionFilter) -> Result<u8, CliError> {
    ask_and_print(
        env,
        |backend| Ok(backend.exceptions(status)?),
        |views, now| render::exception_list(views, status, now),
    )
}

fn status(env: &Env, a: DeploymentArgs) -> Result<u8, CliError> {
    ask_and_print(
        env,
        |backend| Ok(backend.status(&a.deployment, a.ring)?),
        render::status,
    )
}

/// `status` as an exit code for pipelines: 0 eligible, 3 not.
fn gate(env: &Env, a: DeploymentArgs) -> Result<u8, CliError> {
    let view = ask(env, |backend| Ok(backend.status(&a.deployment, a.ring)?))?;
    env.print(&view, || render::gate(&view))?;
    Ok(if view.eligible {
        exit::OK
    } else {
        exit::NOT_ELIGIBLE
    })
}

fn cleanup(env: &Env) -> Result<u8, CliError> {
    ask_and_print(env, |backend| Ok(backend.cleanup()?), render::cleanup)
}

/// `cab verify`: the store file, or with a server named, every event the server holds.
fn verify(env: &Env) -> Result<u8, CliError> {
    if let Some(remote) = env.remote()? {
        return verify_remote(env, &remote);
    }
    let store = env.local_only("verify")?;
    let report = store.verify()?;
    let name = store.name();
    env.print(&render::VerifyJson::new(&name, &report), || {
        render::verify(&name, &report)
    })?;
    Ok(exit::OK)
}

/// `cab verify --remote`: fetch every event and check it as `cab verify` checks a file, with
/// the store's own checker: its place in the hash chain, its hash recomputed from its canonical
/// line, and every rule re-judged against the events before it.
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
    let out = render::RemoteVerifyJson {
        ok: true,
        server: remote.url(),
        events: events.len(),
        head_hash: &prev,
    };
    env.print(&out, || render::remote_verify(&out))?;
    Ok(exit::OK)
}

fn audit_export(
    env: &Env,
    format: AuditFormat,
    since: Option<String>,
    follow: bool,
) -> Result<u8, CliError> {
    if follow && env.at.is_some() {
        return Err(CliError::Invalid(
            "--follow prints records as they are stored and --at shows the past: use one or the other"
                .into(),
        ));
    }
    let since = since.as_deref().map(parse::since).transpose()?;
    if follow {
        return audit_follow(env, format, since);
    }
    let events = ask(env, |backend| Ok(backend.all_events()?))?;
    let records = audit::trail(&events, since, format.trail());
    emit(&render::audit(&records, format, true)?)?;
    Ok(exit::OK)
}

/// How long one wait for new events lasts: the backend answers as soon as one is stored, so
/// this only bounds how late a stop (a signal, a reader gone) is noticed.
const FOLLOW_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// `cab audit export --follow`: the records `--since` selects, then each new one as soon as the
/// backend sees it stored, flushed line by line, until SIGINT or SIGTERM (after the line being
/// written: a log shipper never reads half a record) or until whoever reads stdout goes away.
fn audit_follow(
    env: &Env,
    format: AuditFormat,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<u8, CliError> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let backend = env.backend()?;
    let mut after = 0;
    let mut first = true;
    while !stop.load(Ordering::Relaxed) && !reader_gone() {
        let page = backend.events(after, FOLLOW_WAIT)?;
        notices(backend.as_ref());
        after = page.events.last().map_or(after, |e| e.seq);
        let records = audit::trail(&page.events, since, format.trail());
        if first || !records.is_empty() {
            emit(render::audit(&records, format, first)?)?;
            first = false;
        }
    }
    Ok(exit::OK)
}

/// Whether stdout is a pipe or terminal nobody reads any more: `--follow` then ends without
/// waiting for a record to write and fail on.
fn reader_gone() -> bool {
    #[cfg(unix)]
    {
        let mut fd = libc::pollfd {
            fd: libc::STDOUT_FILENO,
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd, a count of one, no waiting; poll only writes `revents`.
        let ready = unsafe { libc::poll(&mut fd, 1, 0) };
        ready > 0 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// `cab report`: the backend computes the report (SPEC section 6), a renderer draws it, and
/// it goes to stdout or, with `--out`, replaces a file whole.
fn report(env: &Env, a: ReportArgs) -> Result<u8, CliError> {
    let format = super::report::Format::chosen(env.json, a.format)?;
    let threshold =
        |flag: &str, text: Option<&str>| text.map(|t| parse::threshold(flag, t)).transpose();
    let query = crate::engine::report::ReportQuery {
        since: a
            .since
            .as_deref()
            .map(|t| parse::moment("--since", t))
            .transpose()?,
        // `--until` defaults to the backend's clock; as of a moment (`--at T`), to T.
        until: a
            .until
            .as_deref()
            .map(|t| parse::moment("--until", t))
            .transpose()?,
        by: a.by.into(),
        what_if_auto_max: threshold("--what-if-auto-max", a.what_if_auto_max.as_deref())?,
        what_if_review_max: threshold("--what-if-review-max", a.what_if_review_max.as_deref())?,
    };
    let report = ask(env, |backend| Ok(backend.report(query)?))?;
    let rendered = super::report::render(&report, format)?;
    match a.out {
        None => emit(&rendered)?,
        Some(path) => {
            crate::files::replace_atomically(&path, rendered.as_bytes()).map_err(|e| {
                CliError::Output(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", untrusted::line(&path.display().to_string())),
                ))
            })?;
            emit(super::report::written(&report, format, &path))?;
        }
    }
    Ok(exit::OK)
}

fn demo(env: &Env, requests: usize, seed: u64) -> Result<u8, CliError> {
    let store = env.local_only("demo")?;
    let started = Instant::now();
    let policy = env.config.policy()?;
    let summary = crate::demo::fill(&store, requests, seed, env.clock.now(), &policy)?;
    let seconds = started.elapsed().as_secs_f64();
    env.print(&summary, || render::demo(&summary, &store.name(), seconds))?;
    Ok(exit::OK)
}

/// `cab serve`: the HTTP API over the local store, until SIGTERM or Ctrl-C.
fn serve(env: &Env, listen: Option<String>) -> Result<u8, CliError> {
    let store = env.local_only("serve")?;
    let users = crate::server::auth::Users::from_config(&env.config.server.users)
        .map_err(CliError::Invalid)?;
    let listen = listen
        .or_else(|| env.config.server.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let path = store.describe();
    let count = users.len();
    crate::server::init_logging();
    let local = crate::backend::LocalStore::new(store, env.config.policy()?, env.clock);
    let limits = crate::server::Limits::from_config(&env.config.server);
    let webhooks = env.config.webhooks.clone();
    crate::server::serve_with(local, users, limits, webhooks, &listen, |addr| {
        eprintln!(
            "cab serve: listening on http://{addr} ({}, {count} user{})",
            untrusted::line(&path),
            if count == 1 { "" } else { "s" }
        );
    })
    .map_err(|e| match e {
        crate::server::ServeError::Bind { .. } => {
            CliError::Backend(crate::backend::BackendError::Unreachable(e.to_string()))
        }
        other => CliError::Output(io::Error::other(other.to_string())),
    })?;
    Ok(exit::OK)
}

/// `cab store copy`: verify the source, refuse a target that holds events, copy every line,
/// verify the target and compare its head with the source's. With `--dry-run`, only the
/// checks and the count.
fn store_copy(
    env: &Env,
    from: std::path::PathBuf,
    to: std::path::PathBuf,
    dry_run: bool,
) -> Result<u8, CliError> {
    if env.at.is_some() {
        return Err(CliError::Invalid(
            "cab store copy copies the whole store and does not take --at".into(),
        ));
    }
    let source = super::open_store(from)?;
    let target = super::open_store(to)?;
    if source.name() == target.name() {
        return Err(CliError::Invalid(format!(
            "--from and --to are the same store ({}); copy into another one",
            source.name()
        )));
    }
    let checked = source.verify()?;
    let held = target.count()?;
    if held > 0 {
        return Err(crate::store::StoreError::TargetNotEmpty {
            store: target.name(),
            events: held,
        }
        .into());
    }
    let written = if dry_run {
        0
    } else {
        let mut lines = Vec::with_capacity(checked.events as usize);
        source.lines(|line| {
            lines.push(line.to_string());
            Ok(())
        })?;
        if lines.len() as u64 != checked.events {
            return Err(crate::backend::BackendError::Inconsistent(format!(
                "{} changed while it was copied ({} events verified, {} read); nothing of it counts, so empty {} and copy again",
                source.name(),
                checked.events,
                lines.len(),
                target.name()
            ))
            .into());
        }
        let written = target.fill_lines(lines)?;
        let copied = target.verify()?;
        if copied.head_hash != checked.head_hash || copied.events != checked.events {
            return Err(crate::backend::BackendError::Inconsistent(format!(
                "the copy in {} does not end where {} does (head {} of {} events, not {} of {})",
                target.name(),
                source.name(),
                copied.head_hash,
                copied.events,
                checked.head_hash,
                checked.events
            ))
            .into());
        }
        written
    };
    let out = render::CopyJson {
        from: source.name(),
        to: target.name(),
        dry_run,
        events: checked.events,
        written,
        head_hash: checked.head_hash.clone(),
    };
    env.print(&out, || render::store_copy(&out))?;
    Ok(exit::OK)
}

/// `cab token new`: a fresh token, shown once, and the config block that lets it in.
fn token_new(env: &Env, name: &str, roles: &[String]) -> Result<u8, CliError> {
    let roles: Vec<crate::engine::Role> = roles
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, crate::engine::Invalid>>()?;
    let actor = crate::engine::Actor::new(name, roles.iter().copied())?;
    let token = crate::server::auth::new_token();
    let hash = crate::server::auth::token_sha256(&token);
    let block = render::server_user_block(&actor.name, &roles, &hash);
    let out = render::TokenJson {
        name: &actor.name,
        roles: roles.iter().map(|r| r.as_str()).collect(),
        token: &token,
        token_sha256: &hash,
        config: &block,
    };
    env.print(&out, || render::token(&out))?;
    Ok(exit::OK)
}

/// How many requests `cab --demo` generates: enough for a realistic queue, instant to make.
const CONSOLE_DEMO_REQUESTS: usize = 500;

/// `cab` alone: the console on the configured backend; `cab --demo`: on a new demo store.
pub fn console(env: &Env, demo: bool, read_only_flag: bool) -> Result<u8, CliError> {
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
    let (read_only, read_only_reason) = if env.at.is_some() {
        (
            true,
            "opened with --at: it shows the past, which cannot be changed",
        )
    } else if read_only_flag {
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
        let store = Store::from(FileStore::new(dir.path().join("store.jsonl")));
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
        let local = LocalBackend::new(store, actor, policy, env.clock);
        match env.at {
            Some(at) => std::sync::Arc::new(local.as_of(at)),
            None => std::sync::Arc::new(local),
        }
    } else {
        std::sync::Arc::from(env.backend()?)
    };
    crate::console::run(
        backend,
        crate::console::Options {
            read_only,
            read_only_reason,
            theme,
            // As of a moment, ages and countdowns are those of that moment.
            clock: env.at.map_or(env.clock, crate::clock::Clock::Fixed),
            as_of: env.at,
        },
    )?;
    if demo_dir.is_some() {
        eprintln!(
            "cab: the demo store was temporary and is gone; keep one with `cab --store demo.jsonl demo`"
        );
    }
    Ok(exit::OK)
}
