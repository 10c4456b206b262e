//! The `cab` command line: parse, build the backend, run one command, print text or JSON,
//! and exit with the code SPEC section 3 gives.

pub mod args;
mod commands;
pub mod exit;
pub mod generate;
mod parse;
pub mod render;
pub mod report;
pub mod table;
mod webhooks;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Parser;
use serde::Serialize;

use crate::backend::{Backend, LocalBackend};
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::engine::error::ErrorCode;
use crate::store::{Location, Store};
use crate::untrusted::{self, json};
use args::{Cli, Cmd};
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
    let executed = execute(cli);
    // A checkpoint still being written (the answer did not wait for it) is finished first.
    crate::store::checkpoint::finish_writes();
    match executed {
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
    if let Ok(text) = json::to_string_pretty(&render::ErrorJson::new(code, message, line)) {
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
    /// `--at`: every answer as of this moment, read-only.
    at: Option<DateTime<Utc>>,
}

impl Env {
    /// The moment answers are about: `--at`, else the clock's now (`CAB_NOW` or the system's).
    fn now(&self) -> DateTime<Utc> {
        self.at.unwrap_or_else(|| self.clock.now())
    }

    fn store_path(&self) -> Result<PathBuf, CliError> {
        self.store_path.clone().ok_or_else(|| {
            CliError::Invalid(
                "no store path: give --store PATH or set CAB_STORE (no platform data folder was found)".into(),
            )
        })
    }

    /// The store `--store`, `CAB_STORE` or the config names: a file or a database.
    fn store(&self) -> Result<Store, CliError> {
        open_store(self.store_path()?)
    }

    fn local(&self) -> Result<LocalBackend, CliError> {
        let actor = self.config.actor(
            std::env::var("CAB_USER").ok(),
            std::env::var("CAB_ROLES").ok(),
        )?;
        Ok(LocalBackend::new(
            self.store()?,
            actor,
            self.config.policy()?,
            self.clock,
        ))
    }

    /// The backend every command asks: the server or the store, as of `--at` when given.
    fn backend(&self) -> Result<Box<dyn Backend>, CliError> {
        if let Some(remote) = self.remote()? {
            return Ok(match self.at {
                Some(at) => Box::new(remote.as_of(at)),
                None => Box::new(remote),
            });
        }
        let local = self.local()?;
        Ok(match self.at {
            Some(at) => Box::new(local.as_of(at)),
            None => Box::new(local),
        })
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

    /// Commands that work on a store (a file or a database), not through a server.
    fn local_only(&self, command: &str) -> Result<Store, CliError> {
        if let Some(url) = &self.remote {
            return Err(crate::backend::BackendError::Unsupported(format!(
                "cab {command} works on a local store (a file or a database), not on a server ({url}); run it where the store is"
            ))
            .into());
        }
        self.store()
    }

    /// Print a value as JSON, or the text for people.
    fn print<T: Serialize + ?Sized>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if !self.json {
            return emit(text());
        }
        // Straight to standard output: a long answer (every exception of a large store) is
        // never a string in memory beside the state it was read from.
        let mut out = io::BufWriter::with_capacity(64 << 10, io::stdout().lock());
        json::write_pretty(&mut out, value).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }
}

/// A store path or URL as a store: a `postgres://` URL is a database, any other URL is invalid
/// input, the rest are files.
fn open_store(path: PathBuf) -> Result<Store, CliError> {
    let location = Location::parse(path).map_err(CliError::Invalid)?;
    Ok(Store::open(location)?)
}

fn emit(text: impl AsRef<[u8]>) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_ref())?;
    out.flush()?;
    Ok(())
}

fn write_out(bytes: &[u8]) -> Result<u8, CliError> {
    emit(bytes)?;
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
    let at = cli.at.as_deref().map(parse::at).transpose()?;
    if at.is_some()
        && let Some(command) = &cli.command
        && !commands::reads(command)
    {
        return Err(CliError::Invalid(format!(
            "--at shows the past and is read-only: only queue, show, exception list, status, gate, report, audit export and the console take it, not `cab {}`",
            typed_subcommands().join(" ")
        )));
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
        at,
    };
    let Some(command) = cli.command else {
        return commands::console(&env, cli.demo, cli.read_only);
    };
    if cli.demo || cli.read_only {
        return Err(CliError::Invalid(format!(
            "{} opens the console and does not go with a command; run `cab {}` alone",
            if cli.demo { "--demo" } else { "--read-only" },
            if cli.demo { "--demo" } else { "--read-only" },
        )));
    }
    commands::dispatch(&env, command)
}
