//! The command line's grammar (SPEC section 3). Values that the engine judges (scores, days,
//! rationales) are passed through as given, so the engine's one sentence explains a refusal.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::{ExceptionFilter, OutcomeResult, RequestFilter};

#[derive(Debug, Parser)]
#[command(
    name = "cab",
    version,
    about = "Review console and command line for a Change Advisory Board",
    long_about = "Review console and command line for a Change Advisory Board.\n\n\
        Risk decides the path: low risk is approved automatically, medium risk waits for a CAB \
        member's decision, high risk needs a time-limited security exception.\n\n\
        Run `cab` alone to open the console, `cab --demo` for a first look on demo data.",
    after_help = "Exit codes: 0 done (gate: eligible), 1 failure, 2 invalid input, \
        3 not eligible (gate only), 4 refused by a workflow rule."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,

    /// Open the console on a new demo store in a temporary folder (the real store is not touched)
    #[arg(long)]
    pub demo: bool,

    /// Open the console read-only: every action key then says so (for on-call use)
    #[arg(long)]
    pub read_only: bool,

    /// The store: a file, or a postgres:// URL [default: $XDG_DATA_HOME/cab/store.jsonl]
    #[arg(long, global = true, env = "CAB_STORE", value_name = "PATH|URL")]
    pub store: Option<PathBuf>,

    /// A cab server to use instead of a local store
    #[arg(long, global = true, env = "CAB_REMOTE", value_name = "URL")]
    pub remote: Option<String>,

    /// The bearer token for --remote
    #[arg(
        long,
        global = true,
        env = "CAB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// The config file [default: $XDG_CONFIG_HOME/cab/config.toml]
    #[arg(long, global = true, env = "CAB_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Print one JSON document instead of text
    #[arg(long, global = true)]
    pub json: bool,

    /// Answer as of this moment (RFC 3339): the events dated at or before it, with the clock
    /// set to it. Read commands and the console only (the console is then read-only)
    #[arg(long, global = true, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Submit a deployment for approval; prints the request with its gate
    Submit(SubmitArgs),
    /// Requests awaiting action, or those of one status
    Queue {
        /// pending (under review, or needing an exception that is not active), all, or one of
        /// auto_approved, under_review, approved, conditional, rejected, exception_required
        #[arg(long, value_parser = parse_request_filter, default_value = "pending")]
        status: RequestFilter,
    },
    /// One request with its decision, exceptions and event history
    Show {
        /// Request id, or a unique prefix of at least 8 characters
        id: String,
    },
    /// Approve a request under review; with --condition it is a conditional approval
    Approve {
        /// Request id, or a unique prefix of at least 8 characters
        id: String,
        /// Why (required)
        #[arg(long)]
        rationale: String,
        /// A condition of the approval (repeatable)
        #[arg(long = "condition", value_name = "CONDITION")]
        conditions: Vec<String>,
    },
    /// Reject a request under review
    Reject {
        /// Request id, or a unique prefix of at least 8 characters
        id: String,
        /// Why (required)
        #[arg(long)]
        rationale: String,
    },
    /// Security exceptions for high-risk requests
    #[command(subcommand)]
    Exception(ExceptionCmd),
    /// Record how the deployment of an eligible request went (once; anyone may)
    Outcome(OutcomeArgs),
    /// Whether a deployment may be promoted, and why not
    Status(DeploymentArgs),
    /// The same as status, as an exit code: 0 eligible, 3 not eligible
    Gate(DeploymentArgs),
    /// Record the expiry of exceptions whose time has passed
    Cleanup,
    /// Check the whole store: format, canonical form, hash chain and every workflow rule
    Verify,
    /// The decision, exception and outcome audit trail
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Counts, lead times, what waits, exceptions, outcomes and calibration over a period
    #[command(
        long_about = "Counts, lead times, what waits, exceptions, outcomes and calibration over a \
            period [since, until), as text for a terminal, JSON, CSV or one self-contained HTML \
            file. For example:\n\n  cab report\n  cab report --since 2026-01-01 --by week\n  \
            cab report --format html --out report.html\n  cab report --what-if-auto-max 60"
    )]
    Report(ReportArgs),
    /// Fill a new store with realistic generated data
    Demo {
        /// How many requests to generate
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Seed of the generator: the same seed and CAB_NOW give the same store
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Serve the HTTP API over this store
    Serve {
        /// Address to listen on [default: [server] listen in the config, else 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Deliver the webhooks' messages that are due (local store), and exit; or keep going
    #[command(
        long_about = "Deliver what is due to the config's [[webhooks]]: every stored event each \
            webhook has not been sent yet, in store order, and the expiry notices of exceptions \
            with 72 hours or less to go. Without --follow, one attempt per message, then exit \
            (1 if a receiver failed: the next run retries). With --follow, keep delivering and \
            retrying with backoff until SIGINT or SIGTERM. `cab serve` delivers by itself. For \
            example:\n\n  cab notify\n  cab notify --follow"
    )]
    Notify {
        /// Keep delivering new events as they are stored, until stopped
        #[arg(long)]
        follow: bool,
    },
    /// The configured webhooks: their progress, or a test message
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Tokens for `cab serve`
    #[command(subcommand)]
    Token(TokenCmd),
    /// Stores as a whole: copy one between a file and PostgreSQL
    #[command(subcommand)]
    Store(StoreCmd),
    /// Print the completion script for a shell
    #[command(
        long_about = "Print the completion script for a shell, generated from cab's own \
            definitions. For example:\n\n  cab completions bash > ~/.local/share/bash-completion/completions/cab\n  \
            cab completions zsh > ~/.zfunc/_cab\n  \
            cab completions fish > ~/.config/fish/completions/cab.fish"
    )]
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the manual page (roff)
    #[command(
        long_about = "Print the manual page cab(1) in roff, generated from cab's own definitions. \
            For example:\n\n  cab man > ~/.local/share/man/man1/cab.1"
    )]
    Man,
}

/// The shells `cab completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Each webhook's progress: the last event delivered, how many wait, the last error
    List,
    /// Send one signed webhook_test message to a webhook, whatever its event filter
    Test {
        /// The webhook's name in the config file
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Mint a token for a server user: prints the token once, and the config block with its hash
    New {
        /// The user's name
        name: String,
        /// A role: cab_member or security_reviewer (repeatable; everyone may submit)
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Copy every event of a store into a new or empty one (a file or a postgres:// URL,
    /// either way), verifying both ends; refused, writing nothing, when the target holds events
    #[command(
        long_about = "Copy every event of a store into a new or empty one, a file or a PostgreSQL \
            database either way, line for line: the source is verified first (chain and every \
            rule), the target after. A target that already holds events is refused (exit 2) and \
            nothing is written. For example:\n\n  \
            cab store copy --from store.jsonl --to postgres://cab@db.example/cab\n  \
            cab store copy --from postgres://cab@db.example/cab --to export.jsonl --dry-run"
    )]
    Copy {
        /// The store to copy: a file or a postgres:// URL
        #[arg(long, value_name = "PATH|URL")]
        from: PathBuf,
        /// The new or empty store to fill: a file or a postgres:// URL
        #[arg(long, value_name = "PATH|URL")]
        to: PathBuf,
        /// Verify the source and check the target, count, and write nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The deployment intent this request is for
    #[arg(long)]
    pub deployment: String,
    /// The evidence package behind the risk score
    #[arg(long)]
    pub evidence: String,
    /// Risk score, 0 to 100
    #[arg(long, allow_hyphen_values = true, value_name = "SCORE")]
    pub risk: String,
    /// One factor of the score's breakdown (repeatable)
    #[arg(long = "factor", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub factors: Vec<String>,
    /// A title for people
    #[arg(long)]
    pub title: Option<String>,
    /// Your correlation id; a UUID is generated when none is given
    #[arg(long)]
    pub correlation_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct OutcomeArgs {
    /// Request id, or a unique prefix of at least 8 characters
    pub request_id: String,
    /// How it went: success, failure or rolled_back
    #[arg(long, value_parser = parse_outcome_result, value_name = "RESULT")]
    pub result: OutcomeResult,
    /// The incident it caused, as your incident tracker names it
    #[arg(long, value_name = "REF")]
    pub incident: Option<String>,
    /// What happened, for people
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeploymentArgs {
    /// The deployment intent id
    pub deployment: String,
    /// The ring to promote to; rings below approval_required_from_ring are always eligible
    #[arg(long)]
    pub ring: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum ExceptionCmd {
    /// Request a time-limited exception for a request that needs one
    Create {
        /// Request id, or a unique prefix of at least 8 characters
        request_id: String,
        /// Why the deployment must go ahead despite its risk (required)
        #[arg(long)]
        justification: String,
        /// A compensating control (at least one; repeatable)
        #[arg(long = "control", value_name = "CONTROL")]
        controls: Vec<String>,
        /// Days until the exception expires, 1 to 90
        #[arg(long, allow_hyphen_values = true, value_name = "N")]
        days: Option<String>,
    },
    /// Approve a pending exception (security reviewers)
    Approve {
        /// Exception id, or a unique prefix of at least 8 characters
        id: String,
        /// Why (required)
        #[arg(long)]
        rationale: String,
    },
    /// Reject a pending exception (security reviewers)
    Reject {
        /// Exception id, or a unique prefix of at least 8 characters
        id: String,
        /// Why (required)
        #[arg(long)]
        rationale: String,
    },
    /// List exceptions
    List {
        /// pending, approved, rejected, expired or active (approved and not expired)
        #[arg(long, value_parser = parse_exception_filter, default_value = "all")]
        status: ExceptionFilter,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Decisions, exception requests, reviews, expiries and outcomes, one record per line or row
    Export {
        /// jsonl and csv list the audit trail; ocsf (OCSF 1.1 API Activity) and cef, for a
        /// SIEM, list each submission too
        #[arg(long, value_enum, default_value_t = AuditFormat::Jsonl)]
        format: AuditFormat,
        /// Only records at or after this time (RFC 3339, or a date such as 2026-11-01)
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Then keep printing each new record as it is stored, until stopped (for a log shipper)
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start of the period, included (RFC 3339, or a date such as 2026-09-01) [default: 90 days before --until]
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// End of the period, excluded (RFC 3339, or a date) [default: now, or --at]
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// How the period is cut into rows: weeks start on Monday 00:00 UTC, months on the 1st
    #[arg(long, value_enum, default_value_t = ReportBy::Month)]
    pub by: ReportBy,
    /// text for a terminal, json (as --json), csv for spreadsheets, html for one self-contained file
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write the report to this file (replaced whole) instead of printing it
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Re-gate the period's submissions with this auto-approve threshold (0 to 100)
    #[arg(long, allow_hyphen_values = true, value_name = "X")]
    pub what_if_auto_max: Option<String>,
    /// Re-gate the period's submissions with this manual-review threshold (0 to 100)
    #[arg(long, allow_hyphen_values = true, value_name = "Y")]
    pub what_if_review_max: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportBy {
    Week,
    Month,
}

impl From<ReportBy> for crate::engine::report::Bucket {
    fn from(by: ReportBy) -> Self {
        match by {
            ReportBy::Week => Self::Week,
            ReportBy::Month => Self::Month,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Csv,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Jsonl,
    Csv,
    Ocsf,
    Cef,
}

impl AuditFormat {
    /// The records a format lists: the SIEM formats count a submission as a creation (SPEC
    /// section 7); JSON lines and CSV keep the trail scripts already read.
    pub fn trail(self) -> crate::engine::audit::Trail {
        use crate::engine::audit::Trail;
        match self {
            AuditFormat::Jsonl | AuditFormat::Csv => Trail::Audit,
            AuditFormat::Ocsf | AuditFormat::Cef => Trail::WithSubmissions,
        }
    }
}

fn parse_request_filter(s: &str) -> Result<RequestFilter, String> {
    s.parse().map_err(|e: crate::engine::Invalid| e.message)
}

fn parse_outcome_result(s: &str) -> Result<OutcomeResult, String> {
    s.parse().map_err(|e: crate::engine::Invalid| e.message)
}

fn parse_exception_filter(s: &str) -> Result<ExceptionFilter, String> {
    s.parse().map_err(|e: crate::engine::Invalid| e.message)
}
