//! What each command prints: text for people (labelled blocks and tables, times with their
//! relative reading, every value from the store cleaned before it is printed), and the JSON
//! documents of the commands whose output is not an engine view.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::args::AuditFormat;
use super::table::Table;
use crate::backend::CleanupReport;
use crate::engine::audit::AuditRecord;
use crate::engine::query::ReasonCode;
use crate::engine::{
    Decision, EventKind, ExceptionFilter, ExceptionView, Gate, Outcome, RequestDetail,
    RequestFilter, RequestStatus, RequestView, StatusView, StoredEvent, time,
};
use crate::humanize::{countdown, relative, when};
use crate::store::VerifyReport;
use crate::untrusted;

/// Label-value lines with the values aligned; multi-line values continue under the value.
struct Block {
    title: String,
    rows: Vec<(String, String)>,
}

impl Block {
    fn new(title: impl Into<String>) -> Self {
        Block {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, label: &str, value: impl AsRef<str>) -> &mut Self {
        self.rows.push((
            label.to_string(),
            untrusted::block(value.as_ref()).into_owned(),
        ));
        self
    }

    fn list(&mut self, label: &str, items: &[impl AsRef<str>]) -> &mut Self {
        if items.is_empty() {
            return self;
        }
        let text = items
            .iter()
            .map(|i| format!("- {}", untrusted::line(i.as_ref())))
            .collect::<Vec<_>>()
            .join("\n");
        self.rows.push((label.to_string(), text));
        self
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "{}", untrusted::line(&self.title));
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for (label, value) in &self.rows {
            let mut lines = value.lines();
            let first = lines.next().unwrap_or("");
            let _ = writeln!(out, "  {label:<width$}  {first}");
            for more in lines {
                let _ = writeln!(out, "  {:<width$}  {more}", "");
            }
        }
    }
}

fn gate_text(view: &RequestView) -> String {
    let r = &view.request;
    let t = r.thresholds;
    format!(
        "{} -> {} (auto-approve <= {}, manual review <= {})",
        r.risk_score,
        r.gate.as_str(),
        t.auto_approve_max(),
        t.manual_review_max()
    )
}

fn status_text(view: &RequestView, now: DateTime<Utc>) -> String {
    let r = &view.request;
    match r.status {
        RequestStatus::UnderReview => "under_review: waiting for a CAB member's decision".into(),
        RequestStatus::ExceptionRequired => match view.exceptions.last() {
            Some(e) if e.is_active => format!(
                "exception_required: exception {} is active, {}",
                e.exception.short_id(),
                expiry_text(e, now)
            ),
            Some(e) => format!(
                "exception_required: latest exception {} is {}",
                e.exception.short_id(),
                e.exception.status
            ),
            None => "exception_required: a security exception must be requested".into(),
        },
        status => status.to_string(),
    }
}

fn expiry_text(e: &ExceptionView, now: DateTime<Utc>) -> String {
    if e.is_expired {
        format!("expired {}", when(e.exception.expires_at, now))
    } else {
        format!(
            "expires {} ({} left)",
            when(e.exception.expires_at, now),
            countdown(e.exception.expires_at, now)
        )
    }
}

fn factors_text(view: &RequestView) -> String {
    view.request
        .risk_factors
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn request_block(title: String, view: &RequestView, now: DateTime<Utc>) -> Block {
    let r = &view.request;
    let mut b = Block::new(title);
    if let Some(t) = &r.title {
        b.row("title", t);
    }
    b.row("deployment", &r.deployment_intent_id)
        .row("evidence", &r.evidence_package_id)
        .row("risk", gate_text(view));
    if !r.risk_factors.is_empty() {
        b.row("factors", factors_text(view));
    }
    b.row("status", status_text(view, now))
        .row(
            "requested by",
            format!("{}, {}", r.requested_by, when(r.submitted_at, now)),
        )
        .row("correlation", &r.correlation_id);
    b
}

fn decision_block(d: &Decision, now: DateTime<Utc>) -> Block {
    let mut b = Block::new(format!("Decision {}", d.id));
    b.row("decision", d.decision.as_str())
        .row("by", format!("{}, {}", d.approver, when(d.decided_at, now)))
        .row("rationale", &d.rationale)
        .list("conditions", &d.conditions);
    b
}

fn outcome_rows(b: &mut Block, o: &Outcome, now: DateTime<Utc>) {
    b.row("result", o.result.as_str());
    if let Some(incident) = &o.incident {
        b.row("incident", incident);
    }
    if let Some(note) = &o.note {
        b.row("note", note);
    }
    b.row(
        "recorded by",
        format!("{}, {}", o.recorded_by, when(o.recorded_at, now)),
    );
}

/// Whether the request could be deployed, so an outcome may be recorded for it.
fn could_deploy(view: &RequestView) -> bool {
    match view.request.status {
        RequestStatus::AutoApproved | RequestStatus::Approved | RequestStatus::Conditional => true,
        RequestStatus::ExceptionRequired => view.exceptions.iter().any(|e| e.is_active),
        RequestStatus::UnderReview | RequestStatus::Rejected => false,
    }
}

fn exception_block(e: &ExceptionView, now: DateTime<Utc>) -> Block {
    let x = &e.exception;
    let mut b = Block::new(format!("Exception {}", x.id));
    b.row("request", x.request_id.to_string())
        .row("deployment", &x.deployment_intent_id)
        .row(
            "status",
            format!("{}{}", x.status, if e.is_active { " (active)" } else { "" }),
        )
        .row("expiry", expiry_text(e, now))
        .row(
            "requested by",
            format!("{}, {}", x.requested_by, when(x.requested_at, now)),
        )
        .row("justification", &x.justification)
        .list("controls", &x.compensating_controls);
    if let (Some(by), Some(at)) = (&x.reviewed_by, x.reviewed_at) {
        b.row("reviewed by", format!("{by}, {}", when(at, now)));
    }
    if let Some(r) = &x.review_rationale {
        b.row("review", r);
    }
    b
}

/// What `submit`, `approve` and `reject` print: the request, and what happens next.
pub fn request_summary(verb: &str, view: &RequestView, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    request_block(format!("{verb} request {}", view.request.id), view, now).render(&mut out);
    if let Some(d) = &view.decision {
        out.push('\n');
        decision_block(d, now).render(&mut out);
    }
    let next = match (view.request.gate, view.request.status) {
        (Gate::AutoApproved, _) => None,
        (_, RequestStatus::UnderReview) => Some(format!(
            "Next: a CAB member decides it, e.g. cab approve {} --rationale \"...\"",
            view.request.short_id()
        )),
        (_, RequestStatus::ExceptionRequired) if view.exceptions.is_empty() => Some(format!(
            "Next: request a security exception, e.g. cab exception create {} --justification \"...\" --control \"...\"",
            view.request.short_id()
        )),
        _ => None,
    };
    if let Some(next) = next {
        let _ = writeln!(out, "\n{next}");
    }
    out
}

/// What `show` prints.
pub fn request_detail(detail: &RequestDetail, now: DateTime<Utc>) -> String {
    let view = &detail.view;
    let mut out = String::new();
    request_block(format!("Request {}", view.request.id), view, now).render(&mut out);
    match &view.decision {
        Some(d) => {
            out.push('\n');
            decision_block(d, now).render(&mut out);
        }
        None => out.push_str("\nNo decision yet.\n"),
    }
    for e in &view.exceptions {
        out.push('\n');
        exception_block(e, now).render(&mut out);
    }
    let outcome = detail.history.iter().find_map(|e| match &e.event.kind {
        EventKind::OutcomeRecorded(o) => Some(&o.outcome),
        _ => None,
    });
    match outcome {
        Some(o) => {
            out.push('\n');
            let mut b = Block::new(format!("Outcome {}", o.id));
            outcome_rows(&mut b, o, now);
            b.render(&mut out);
        }
        None if could_deploy(view) => {
            let _ = writeln!(
                out,
                "\nNo outcome recorded yet; once it is deployed: cab outcome {} --result success|failure|rolled_back",
                view.request.short_id()
            );
        }
        None => {}
    }
    out.push_str("\nHistory\n");
    out.push_str(&history(&detail.history, now));
    out
}

fn history(events: &[StoredEvent], now: DateTime<Utc>) -> String {
    let mut t = Table::new(&["SEQ", "WHEN", "", "WHO", "WHAT"]);
    for e in events {
        t.row(vec![
            format!("#{}", e.seq),
            time::format_secs(e.event.at),
            format!("({})", relative(e.event.at, now)),
            e.event.actor.clone(),
            e.event.kind.summary(),
        ]);
    }
    indent(&t.limit(4, 100).render())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// `queue` and other request lists.
pub fn request_table(views: &[RequestView], now: DateTime<Utc>) -> String {
    let mut t = Table::new(&[
        "ID",
        "DEPLOYMENT",
        "RISK",
        "STATUS",
        "AGE",
        "REQUESTER",
        "TITLE",
    ])
    .limit(1, 40)
    .limit(5, 20)
    .limit(6, 50);
    for v in views {
        let r = &v.request;
        t.row(vec![
            r.short_id(),
            r.deployment_intent_id.to_string(),
            r.risk_score.to_string(),
            r.status.to_string(),
            relative(r.submitted_at, now),
            r.requested_by.to_string(),
            r.title.as_deref().unwrap_or_default().to_string(),
        ]);
    }
    t.render()
}

/// `exception list`.
pub fn exception_table(views: &[ExceptionView], now: DateTime<Utc>) -> String {
    let mut t = Table::new(&[
        "ID",
        "REQUEST",
        "DEPLOYMENT",
        "STATUS",
        "EXPIRES",
        "LEFT",
        "REQUESTED BY",
        "REVIEWED BY",
    ])
    .limit(2, 40);
    for v in views {
        let x = &v.exception;
        t.row(vec![
            x.short_id(),
            crate::engine::short_id(&x.request_id),
            x.deployment_intent_id.to_string(),
            if v.is_active {
                "active".to_string()
            } else {
                x.status.to_string()
            },
            time::format_secs(x.expires_at),
            if v.is_active || x.status == crate::engine::ExceptionStatus::Pending {
                countdown(x.expires_at, now)
            } else {
                "-".to_string()
            },
            x.requested_by.to_string(),
            x.reviewed_by.as_deref().unwrap_or_default().to_string(),
        ]);
    }
    t.render()
}

/// What `outcome` prints: what was recorded, for which request.
pub fn outcome_recorded(o: &Outcome, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut b = Block::new(format!(
        "Recorded outcome {} for request {}",
        o.result, o.request_id
    ));
    b.row("deployment", &o.deployment_intent_id);
    outcome_rows(&mut b, o, now);
    b.render(&mut out);
    out
}

/// What `exception create/approve/reject` print.
pub fn exception_summary(verb: &str, view: &ExceptionView, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut block = exception_block(view, now);
    block.title = format!("{verb} exception {}", view.exception.id);
    block.render(&mut out);
    out
}

/// What `status` prints.
pub fn status(view: &StatusView, now: DateTime<Utc>) -> String {
    let mut b = Block::new(format!(
        "{}: {}",
        view.deployment_intent_id,
        if view.eligible {
            "ELIGIBLE"
        } else {
            "NOT ELIGIBLE"
        }
    ));
    b.row("reason", &view.reason);
    if let Some(ring) = view.ring {
        b.row("ring", ring.to_string());
    }
    match &view.request {
        Some(v) => {
            let r = &v.request;
            b.row(
                "request",
                format!(
                    "{}  risk {}  {}  submitted {} by {}",
                    r.short_id(),
                    r.risk_score,
                    r.status,
                    when(r.submitted_at, now),
                    r.requested_by
                ),
            );
            if let Some(d) = &v.decision {
                b.row(
                    "decision",
                    format!(
                        "{} by {}, {}",
                        d.decision,
                        d.approver,
                        when(d.decided_at, now)
                    ),
                );
                b.list("conditions", &d.conditions);
            }
        }
        None => {
            b.row("request", "none");
        }
    }
    match &view.active_exception {
        Some(e) => {
            b.row(
                "exception",
                format!("{} active, {}", e.exception.short_id(), expiry_text(e, now)),
            );
            b.list("controls", &e.exception.compensating_controls);
        }
        None if view.reason_code != ReasonCode::RingExempt
            && view
                .request
                .as_ref()
                .is_some_and(|v| v.request.status == RequestStatus::ExceptionRequired) =>
        {
            b.row("exception", "none active");
        }
        None => {}
    }
    let mut out = String::new();
    b.render(&mut out);
    out
}

/// What `gate` prints: one line.
pub fn gate(view: &StatusView) -> String {
    format!(
        "{}: {} ({})\n",
        untrusted::line(&view.deployment_intent_id),
        if view.eligible {
            "eligible"
        } else {
            "not eligible"
        },
        untrusted::line(&view.reason)
    )
}

pub fn cleanup(report: &CleanupReport, now: DateTime<Utc>) -> String {
    if report.recorded == 0 {
        return "No exception has expired since the last cleanup; nothing was recorded.\n".into();
    }
    let mut out = format!(
        "Recorded the expiry of {} exception{}:\n",
        report.recorded,
        if report.recorded == 1 { "" } else { "s" }
    );
    out.push_str(&exception_table(&report.exceptions, now));
    out
}

pub fn verify(store: &str, report: &VerifyReport) -> String {
    let mut out = format!(
        "ok: {} is intact: {} event{} (sequence 1..{}), {} requests, {} exceptions, {} bytes\nhead hash: {}\n",
        untrusted::line(store),
        report.events,
        if report.events == 1 { "" } else { "s" },
        report.events,
        report.requests,
        report.exceptions,
        report.bytes,
        report.head_hash
    );
    if let Some(t) = report.torn {
        let _ = writeln!(
            out,
            "warning: the last line (line {}, {} bytes) is incomplete, cut off by a crash or a failed write; it is not data, and the next write will move it to a quarantine file",
            t.line, t.len
        );
    }
    out
}

/// `{"error": {"code", "message", "line"?}}`, what every command prints with `--json` when
/// it fails (`line`: where a store fails verification).
#[derive(Serialize)]
pub struct ErrorJson<'a> {
    error: ErrorDetailJson<'a>,
}

#[derive(Serialize)]
struct ErrorDetailJson<'a> {
    code: crate::engine::error::ErrorCode,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
}

impl<'a> ErrorJson<'a> {
    pub fn new(code: crate::engine::error::ErrorCode, message: &'a str, line: Option<u64>) -> Self {
        ErrorJson {
            error: ErrorDetailJson {
                code,
                message,
                line,
            },
        }
    }
}

/// `cab verify --json` on a store file.
#[derive(Serialize)]
pub struct VerifyJson<'a> {
    ok: bool,
    store: String,
    events: u64,
    requests: usize,
    exceptions: usize,
    bytes: u64,
    head_hash: &'a str,
    torn_tail: Option<TornTailJson>,
}

/// The incomplete last line a crash left, which is not data.
#[derive(Serialize)]
struct TornTailJson {
    line: u64,
    offset: u64,
    bytes: u64,
}

impl<'a> VerifyJson<'a> {
    pub fn new(store: &str, report: &'a VerifyReport) -> Self {
        VerifyJson {
            ok: true,
            store: store.to_string(),
            events: report.events,
            requests: report.requests,
            exceptions: report.exceptions,
            bytes: report.bytes,
            head_hash: &report.head_hash,
            torn_tail: report.torn.map(|t| TornTailJson {
                line: t.line,
                offset: t.offset,
                bytes: t.len,
            }),
        }
    }
}

/// `cab store copy`: what was checked and copied.
#[derive(Serialize)]
pub struct CopyJson {
    pub from: String,
    pub to: String,
    pub dry_run: bool,
    /// Events in the source (all verified).
    pub events: u64,
    /// Events written to the target (0 with `--dry-run`).
    pub written: u64,
    pub head_hash: String,
}

pub fn store_copy(out: &CopyJson) -> String {
    let (from, to) = (untrusted::line(&out.from), untrusted::line(&out.to));
    let plural = if out.events == 1 { "" } else { "s" };
    if out.dry_run {
        format!(
            "dry run: {from} verifies ({} event{plural}, head {}) and {to} is empty; nothing was written\n",
            out.events, out.head_hash
        )
    } else {
        format!(
            "copied {} event{plural} from {from} to {to}; both verify, head hash {}\n",
            out.written, out.head_hash
        )
    }
}

/// `cab verify --remote`: a server whose every event passed the same checks as a file's.
#[derive(Serialize)]
pub struct RemoteVerifyJson<'a> {
    pub ok: bool,
    pub server: &'a str,
    pub events: usize,
    pub head_hash: &'a str,
}

pub fn remote_verify(out: &RemoteVerifyJson) -> String {
    format!(
        "ok: the server {} has an intact chain of {} event{}\nhead hash: {}\n",
        untrusted::line(out.server),
        out.events,
        if out.events == 1 { "" } else { "s" },
        out.head_hash
    )
}

/// `cab token new`: the token, shown once, and the config block with its hash.
#[derive(Serialize)]
pub struct TokenJson<'a> {
    pub name: &'a str,
    pub roles: Vec<&'static str>,
    pub token: &'a str,
    pub token_sha256: &'a str,
    pub config: &'a str,
}

pub fn token(out: &TokenJson) -> String {
    format!(
        "Token for {} (shown once; the server keeps only its hash):\n\n  {}\n\nAdd this to the server's config file:\n\n{}\nand give the token to {} for CAB_TOKEN or [remote] token.\n",
        untrusted::line(out.name),
        out.token,
        out.config,
        untrusted::line(out.name)
    )
}

/// `cab queue`: the table, or why it is empty.
pub fn queue(views: &[RequestView], status: RequestFilter, now: DateTime<Utc>) -> String {
    if !views.is_empty() {
        return request_table(views, now);
    }
    match status {
        RequestFilter::Pending => {
            "Nothing is waiting: no request is under review or needs an exception.\n".to_string()
        }
        RequestFilter::All => "There are no requests yet.\n".to_string(),
        other => format!("No request is {}.\n", other.as_str()),
    }
}

/// `cab exception list`: the table, or why it is empty.
pub fn exception_list(
    views: &[ExceptionView],
    status: ExceptionFilter,
    now: DateTime<Utc>,
) -> String {
    if !views.is_empty() {
        return exception_table(views, now);
    }
    if status == ExceptionFilter::All {
        "There are no exceptions yet.\n".to_string()
    } else {
        format!("No exception is {}.\n", status.as_str())
    }
}

/// `cab exception create`: the exception, and who acts next.
pub fn exception_requested(view: &ExceptionView, now: DateTime<Utc>) -> String {
    let mut text = exception_summary("Requested", view, now);
    let _ = write!(
        text,
        "\nNext: a security reviewer reviews it, e.g. cab exception approve {} --rationale \"...\"\n",
        view.exception.short_id()
    );
    text
}

/// `cab demo`: what was written where, and how to look at it.
pub fn demo(summary: &crate::demo::DemoSummary, store: &str, seconds: f64) -> String {
    let path = untrusted::line(store).into_owned();
    format!(
        "Wrote {} requests, {} exceptions and {} outcomes ({} events) to {path} in {seconds:.1} s.\nTry: cab --store {path} queue\n",
        summary.requests, summary.exceptions, summary.outcomes, summary.events,
    )
}

/// `cab audit export`: one JSON object per line, CSV whose cells cannot start a formula (with
/// its header row when `header`), or one OCSF or CEF record per line (SPEC section 7).
pub fn audit(
    records: &[AuditRecord],
    format: AuditFormat,
    header: bool,
) -> std::io::Result<String> {
    let mut out = String::with_capacity(records.len() * 500);
    match format {
        AuditFormat::Jsonl => {
            let mut bytes = Vec::with_capacity(records.len() * 400);
            for r in records {
                untrusted::json::write_compact(&mut bytes, r).map_err(std::io::Error::other)?;
                bytes.push(b'\n');
            }
            out.push_str(&String::from_utf8(bytes).unwrap_or_default());
        }
        AuditFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            if header {
                w.write_record(AuditRecord::CSV_HEADER)
                    .map_err(std::io::Error::other)?;
            }
            for r in records {
                // CSV goes to terminals and spreadsheets: cells are cleaned like any text output,
                // and none can start a formula.
                let row = r.csv_row().map(|cell| no_formula(&cell));
                w.write_record(&row).map_err(std::io::Error::other)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            out.push_str(&String::from_utf8(bytes).unwrap_or_default());
        }
        AuditFormat::Ocsf => {
            for r in records {
                out.push_str(&crate::siem::ocsf::line(r).map_err(std::io::Error::other)?);
            }
        }
        AuditFormat::Cef => {
            for r in records {
                out.push_str(&crate::siem::cef::line(r));
            }
        }
    }
    Ok(out)
}

/// A CSV cell cleaned for a terminal, with a leading `'` when its text (as given, or as
/// cleaned) begins like a spreadsheet formula: `=`, `+`, `-`, `@`, tab or carriage return.
pub(crate) fn no_formula(cell: &str) -> String {
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

/// The `[[server.users]]` block that lets a token in.
pub fn server_user_block(name: &str, roles: &[crate::engine::Role], token_sha256: &str) -> String {
    let role_list = roles
        .iter()
        .map(|r| format!("\"{}\"", r.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "[[server.users]]\nname = {}\nroles = [{role_list}]\ntoken_sha256 = \"{token_sha256}\"\n",
        toml_string(name)
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
