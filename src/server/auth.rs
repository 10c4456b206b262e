//! Who is calling: bearer tokens checked against the SHA-256 of each user's token from the
//! config file. Tokens are never stored, compared in constant time, and never logged.

use sha2::{Digest, Sha256};

use crate::config::ServerUser;
use crate::engine::Actor;

struct User {
    actor: Actor,
    token_sha256: [u8; 32],
}

/// The users a server knows.
pub struct Users {
    users: Vec<User>,
}

/// Names only: token hashes stay out of logs and panics.
impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.users.iter().map(|u| &u.actor.name))
            .finish()
    }
}

impl Users {
    /// The `[[server.users]]` of the config file, checked: names unique and valid (roles were read with the file),
    /// hashes 64 lowercase hex digits and unique (one token cannot be two people), at least one
    /// user.
    pub fn from_config(entries: &[ServerUser]) -> Result<Users, String> {
        if entries.is_empty() {
            return Err(
                "cab serve needs at least one [[server.users]] entry in the config file; make one with `cab token new NAME --role ROLE`".into(),
            );
        }
        let mut users: Vec<User> = Vec::new();
        for entry in entries {
            let actor = Actor::new(&entry.name, entry.roles.iter().copied())
                .map_err(|e| format!("[[server.users]] {:?}: {e}", entry.name))?;
            if users.iter().any(|u| u.actor.name == actor.name) {
                return Err(format!("[[server.users]] lists {:?} twice", actor.name));
            }
            let token_sha256 = parse_hash(&entry.token_sha256).ok_or_else(|| {
                format!(
                    "[[server.users]] {:?}: token_sha256 must be 64 lowercase hex digits (the SHA-256 of the token)",
                    entry.name
                )
            })?;
            if let Some(other) = users.iter().find(|u| u.token_sha256 == token_sha256) {
                return Err(format!(
                    "[[server.users]] {:?} and {:?} have the same token_sha256, so one token would be both; mint each user their own with `cab token new NAME`",
                    other.actor.name, actor.name
                ));
            }
            users.push(User {
                actor,
                token_sha256,
            });
        }
        Ok(Users { users })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The user whose token this is. Every user's hash is compared, each in constant time, so
    /// the time taken says nothing about which user or how much of a hash matched.
    pub fn authenticate(&self, token: &str) -> Option<&Actor> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for user in &self.users {
            if constant_time_eq(&presented, &user.token_sha256) {
                found = Some(&user.actor);
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A fresh random token: `cab_` and 64 hex digits (256 bits from the operating system's
/// generator, through the thread's cryptographically secure generator).
pub fn new_token() -> String {
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    format!("cab_{}", crate::store::line::sha256_hex(&bytes))
}

pub fn token_sha256(token: &str) -> String {
    crate::store::line::sha256_hex(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Role;

    fn user(name: &str, token: &str, roles: &[&str]) -> ServerUser {
        ServerUser {
            name: name.into(),
            roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
            token_sha256: token_sha256(token),
        }
    }

    #[test]
    fn a_token_authenticates_its_user_with_their_roles_and_no_other() {
        let users = Users::from_config(&[
            user("carol", "cab_carol", &["cab_member"]),
            user("sam", "cab_sam", &["security_reviewer"]),
        ])
        .unwrap();
        let carol = users.authenticate("cab_carol").unwrap();
        assert_eq!(carol.name, "carol");
        assert!(carol.has(Role::CabMember) && !carol.has(Role::SecurityReviewer));
        assert_eq!(users.authenticate("cab_sam").unwrap().name, "sam");
        assert!(users.authenticate("cab_mallory").is_none());
        assert!(users.authenticate("").is_none());
    }

    #[test]
    fn a_bad_user_list_is_refused_with_the_reason() {
        assert!(
            Users::from_config(&[])
                .unwrap_err()
                .contains("at least one")
        );
        let bad_hash = ServerUser {
            name: "x".into(),
            roles: vec![],
            token_sha256: "ABC".into(),
        };
        assert!(
            Users::from_config(&[bad_hash])
                .unwrap_err()
                .contains("64 lowercase hex")
        );
        let twice = [user("x", "a", &[]), user("x", "b", &[])];
        assert!(Users::from_config(&twice).unwrap_err().contains("twice"));
        let shared = [user("x", "a", &[]), user("y", "a", &["cab_member"])];
        let err = Users::from_config(&shared).unwrap_err();
        assert!(
            err.contains("\"x\" and \"y\" have the same token_sha256"),
            "{err}"
        );
    }

    #[test]
    fn new_tokens_are_long_random_and_distinct() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("cab_") && a.len() == 68);
        assert_eq!(token_sha256(&a).len(), 64);
    }
}
