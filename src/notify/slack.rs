//! Slack-compatible messages (`text` and `blocks`) for people: what happened, to which
//! deployment, at what risk, by whom, and what comes next ("payments-api-r4821 waits for CAB
//! review, risk 62, requested by dana"). Every piece of stored text is cleaned of control,
//! bidi and zero-width characters, cut to a readable length, and escaped for Slack's mrkdwn
//! (`&`, `<`, `>`), so a rationale can neither break the layout nor ping `@channel`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::engine::event::EventKind;
use crate::engine::model::short_id;
use crate::engine::{DecisionKind, ExceptionStatus, ExceptionView, Gate, StoredEvent, time};
use crate::humanize;

/// The longest piece of stored text (a rationale, a justification) quoted in a message.
const QUOTE_MAX: usize = 300;

/// One piece of a sentence: plain words, a name in bold, or an id or command in code.
enum Piece {
    Plain(String),
    Strong(String),
    Code(String),
}

use Piece::{Code, Plain, Strong};

fn plain(text: impl Into<String>) -> Piece {
    Plain(text.into())
}

/// Stored text, made safe and short.
fn quoted(text: &str) -> String {
    humanize::truncate(&crate::untrusted::line(text), QUOTE_MAX)
}

fn strong(text: &str) -> Piece {
    Strong(quoted(text))
}

fn code(text: impl Into<String>) -> Piece {
    Code(text.into())
}

/// Slack's mrkdwn escapes only these three.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn plain_text(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Plain(t) | Strong(t) | Code(t) => t.as_str(),
        })
        .collect()
}

fn mrkdwn(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Plain(t) => escape(t),
            Strong(t) => format!("*{}*", escape(t)),
            Code(t) => format!("`{}`", escape(&t.replace('`', "'"))),
        })
        .collect()
}

/// A message: a headline, optional quoted lines, what to do next, and a line of ids.
struct Notice {
    headline: Vec<Piece>,
    quotes: Vec<(String, String)>,
    next: Option<Vec<Piece>>,
    context: Vec<Piece>,
}

impl Notice {
    fn new(headline: Vec<Piece>) -> Notice {
        Notice {
            headline,
            quotes: Vec::new(),
            next: None,
            context: Vec::new(),
        }
    }

    fn quote(mut self, label: &str, text: &str) -> Notice {
        if !text.trim().is_empty() {
            self.quotes.push((label.to_string(), quoted(text)));
        }
        self
    }

    fn next(mut self, next: Vec<Piece>) -> Notice {
        self.next = Some(next);
        self
    }

    fn context(mut self, context: Vec<Piece>) -> Notice {
        self.context = context;
        self
    }

    fn to_json(&self) -> Value {
        let mut section = mrkdwn(&self.headline);
        for (label, text) in &self.quotes {
            section.push_str(&format!("\n>*{}:* {}", escape(label), escape(text)));
        }
        let mut blocks = vec![json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": section},
        })];
        if let Some(next) = &self.next {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": format!("*Next:* {}", mrkdwn(next))},
            }));
        }
        if !self.context.is_empty() {
            blocks.push(json!({
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": mrkdwn(&self.context)}],
            }));
        }
        json!({"text": plain_text(&self.headline), "blocks": blocks})
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The line of ids under every message about a stored event.
fn event_context(event: &StoredEvent) -> Vec<Piece> {
    let kind = &event.event.kind;
    vec![
        plain("request "),
        code(short_id(&kind.request_id())),
        plain(" · correlation "),
        code(quoted(&event.event.correlation_id)),
        plain(format!(
            " · event {} · {}",
            event.seq,
            time::format_secs(event.event.at)
        )),
    ]
}

/// The message for a stored event.
pub fn stored(event: &StoredEvent) -> Value {
    let notice = match &event.event.kind {
        EventKind::RequestSubmitted(e) => {
            let r = &e.request;
            let id = r.short_id();
            let risk = format!(", risk {}", r.risk_score);
            let by = format!(", requested by {}", quoted(&r.requested_by));
            let dep = strong(&r.deployment_intent_id);
            let notice = match r.gate {
                Gate::AutoApproved => Notice::new(vec![
                    dep,
                    plain(format!(
                        " was approved automatically{risk} (at or below {}){by}",
                        r.thresholds.auto_approve_max()
                    )),
                ])
                .next(vec![plain("it may be promoted: "), code(gate_command(r))]),
                Gate::ManualReview => {
                    Notice::new(vec![dep, plain(format!(" waits for CAB review{risk}{by}"))]).next(
                        vec![
                            plain("a CAB member decides: "),
                            code(format!("cab approve {id} --rationale …")),
                            plain(" or "),
                            code(format!("cab reject {id} --rationale …")),
                        ],
                    )
                }
                Gate::ExceptionRequired => Notice::new(vec![
                    dep,
                    plain(format!(
                        " needs a security exception{risk} (above {}){by}",
                        r.thresholds.manual_review_max()
                    )),
                ])
                .next(vec![
                    plain("the requester asks for one: "),
                    code(format!(
                        "cab exception create {id} --justification … --control …"
                    )),
                ]),
            };
            match &r.title {
                Some(title) => notice.quote("Title", title),
                None => notice,
            }
        }
        EventKind::RequestDecided(e) => {
            let d = &e.decision;
            let dep = strong(&e.deployment_intent_id);
            let by = quoted(&d.approver);
            let headline = match d.decision {
                DecisionKind::Conditional => vec![
                    dep,
                    plain(format!(
                        " approved with {} by {by}",
                        plural(d.conditions.len(), "condition", "conditions")
                    )),
                ],
                DecisionKind::Rejected => vec![dep, plain(format!(" rejected by {by}"))],
                DecisionKind::Approved | DecisionKind::AutoApproved => {
                    vec![dep, plain(format!(" approved by {by}"))]
                }
            };
            let mut notice = Notice::new(headline).quote("Rationale", &d.rationale);
            for (n, condition) in d.conditions.iter().enumerate() {
                notice = notice.quote(&format!("Condition {}", n + 1), condition);
            }
            match d.decision {
                DecisionKind::Rejected => notice,
                _ => notice.next(vec![
                    plain("it may be promoted"),
                    plain(if d.conditions.is_empty() {
                        ""
                    } else {
                        ", under the conditions above"
                    }),
                ]),
            }
        }
        EventKind::ExceptionRequested(e) => {
            let x = &e.exception;
            let days = (x.expires_at - x.requested_at).num_days();
            Notice::new(vec![
                plain("exception "),
                code(x.short_id()),
                plain(" for "),
                strong(&x.deployment_intent_id),
                plain(format!(
                    " waits for security review: {}, {}, requested by {}",
                    plural(
                        x.compensating_controls.len(),
                        "compensating control",
                        "compensating controls"
                    ),
                    plural(days as usize, "day", "days"),
                    quoted(&x.requested_by)
                )),
            ])
            .quote("Justification", &x.justification)
            .next(vec![
                plain("a security reviewer decides: "),
                code(format!(
                    "cab exception approve {} --rationale …",
                    x.short_id()
                )),
            ])
        }
        EventKind::ExceptionReviewed(e) => {
            let verb = match e.status {
                ExceptionStatus::Approved => "approved",
                _ => "rejected",
            };
            Notice::new(vec![
                plain("exception "),
                code(short_id(&e.exception_id)),
                plain(" for "),
                strong(&e.deployment_intent_id),
                plain(format!(" {verb} by {}", quoted(&e.reviewed_by))),
            ])
            .quote("Rationale", &e.review_rationale)
        }
        EventKind::ExceptionExpired(e) => Notice::new(vec![
            plain("exception "),
            code(short_id(&e.exception_id)),
            plain(" for "),
            strong(&e.deployment_intent_id),
            plain(format!(" expired at {}", time::format_secs(e.expires_at))),
        ])
        .next(vec![plain(
            "the deployment is not eligible until a new exception is approved",
        )]),
        EventKind::OutcomeRecorded(e) => {
            let o = &e.outcome;
            let mut headline = vec![
                strong(&o.deployment_intent_id),
                plain(format!(" deployment outcome: {}", o.result.as_str())),
            ];
            if let Some(incident) = &o.incident {
                headline.push(plain(format!(" (incident {})", quoted(incident))));
            }
            headline.push(plain(format!(", recorded by {}", quoted(&o.recorded_by))));
            let notice = Notice::new(headline);
            match &o.note {
                Some(note) => notice.quote("Note", note),
                None => notice,
            }
        }
    };
    notice.context(event_context(event)).to_json()
}

fn gate_command(r: &crate::engine::ApprovalRequest) -> String {
    format!("cab gate {}", quoted(&r.deployment_intent_id))
}

/// The notice that an approved exception expires within 72 hours.
pub fn expiring(exception: &ExceptionView, now: DateTime<Utc>) -> Value {
    let x = &exception.exception;
    Notice::new(vec![
        plain("exception "),
        code(x.short_id()),
        plain(" for "),
        strong(&x.deployment_intent_id),
        plain(format!(
            " expires {} (at {})",
            humanize::relative(x.expires_at, now),
            time::format_secs(x.expires_at)
        )),
    ])
    .quote("Justification", &x.justification)
    .next(vec![
        plain("promote before then, or ask for a new exception: "),
        code(format!(
            "cab exception create {} --justification … --control …",
            short_id(&x.request_id)
        )),
    ])
    .context(vec![
        plain("request "),
        code(short_id(&x.request_id)),
        plain(" · exception "),
        code(x.id.to_string()),
    ])
    .to_json()
}

/// The message of `cab webhook test`.
pub fn test(webhook: &str, sent_by: &str) -> Value {
    Notice::new(vec![
        plain("cab webhook test: "),
        strong(webhook),
        plain(format!(
            " delivers cab's messages here (sent by {})",
            quoted(sent_by)
        )),
    ])
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrkdwn_escapes_angle_brackets_and_ampersands_so_no_mention_or_link_is_made() {
        let pieces = [plain("<!channel> & <https://evil|click>"), strong("a<b")];
        let text = mrkdwn(&pieces);
        assert_eq!(
            text,
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;*a&lt;b*"
        );
        assert!(!text.contains('<') && !text.contains('>'));
    }

    #[test]
    fn quoted_text_loses_control_bidi_and_zero_width_characters_and_is_cut() {
        let q = quoted("ok\u{1b}[31m\u{202e}x\u{200b}y");
        assert!(!q.contains('\u{1b}') && !q.contains('\u{202e}') && !q.contains('\u{200b}'));
        let long = "x".repeat(1000);
        assert!(quoted(&long).chars().count() <= QUOTE_MAX);
    }
}
