//! What `/` searches: for every request its deployment, title, requester and id, and for every
//! exception its deployment, requester, id and request id, lower-cased once into one string.
//! Records never change these fields and are only ever added, so the index only grows, and a
//! keystroke costs one SIMD substring search per record.

use memchr::memmem::Finder;

use crate::engine::State;

#[derive(Debug, Default, Clone)]
pub struct SearchIndex {
    requests: Vec<String>,
    exceptions: Vec<String>,
}

impl SearchIndex {
    /// Add the records the state has and the index does not (all of them after a new snapshot,
    /// which resets the index first).
    pub fn update(&mut self, state: &State) {
        if self.requests.len() > state.request_count()
            || self.exceptions.len() > state.exception_count()
        {
            *self = SearchIndex::default();
        }
        for r in state.requests().skip(self.requests.len()) {
            self.requests.push(
                format!(
                    "{}\u{0}{}\u{0}{}\u{0}{}",
                    r.deployment_intent_id,
                    r.title.as_deref().unwrap_or(""),
                    r.requested_by,
                    r.id
                )
                .to_lowercase(),
            );
        }
        for e in state.exceptions().skip(self.exceptions.len()) {
            self.exceptions.push(
                format!(
                    "{}\u{0}{}\u{0}{}\u{0}{}",
                    e.deployment_intent_id, e.requested_by, e.id, e.request_id
                )
                .to_lowercase(),
            );
        }
    }

    /// The searchable text of the state's requests, in the state's order.
    pub fn requests(&self) -> &[String] {
        &self.requests
    }

    pub fn exceptions(&self) -> &[String] {
        &self.exceptions
    }
}

/// A case-insensitive search for one needle.
pub struct Needle {
    finder: Option<Finder<'static>>,
}

impl Needle {
    pub fn new(text: &str) -> Self {
        let lower = text.trim().to_lowercase();
        Needle {
            finder: (!lower.is_empty()).then(|| Finder::new(lower.as_bytes()).into_owned()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.finder.is_none()
    }

    /// Does the (already lower-cased) text contain the needle? Everything matches no needle.
    pub fn in_lowercase(&self, text: &str) -> bool {
        self.finder
            .as_ref()
            .is_none_or(|f| f.find(text.as_bytes()).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needle_matches_case_insensitively_across_fields_but_not_across_their_boundary() {
        let n = Needle::new("PAY");
        assert!(n.in_lowercase("checkout-payments\u{0}title"));
        assert!(
            !Needle::new("sa").in_lowercase("ledger-s\u{0}a"),
            "fields do not run together"
        );
        assert!(Needle::new("").in_lowercase("anything"));
        assert!(Needle::new("ZOË").in_lowercase(&"Zoë Martin".to_lowercase()));
    }
}
