//! Text the state keeps: a string that can be shared. The same names, titles and rationales
//! come back in thousands of records; the state keeps one copy of each ([`Interner`]), which is
//! most of what lets it hold a large store in less memory than the store's file takes.

use std::borrow::Borrow;
/// The state's maps and sets: hashed with foldhash, seeded at random per process (a store's
/// texts cannot be chosen to collide), several times faster than the standard SipHash on the
/// short keys a replay hashes a few times an event.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use triomphe::ThinArc;

/// An immutable string, cheap to clone (a shared pointer). Reads, prints, compares, serializes
/// and deserializes as the plain string it holds.
///
/// One word wide: the length sits in the shared allocation, before the bytes, not beside the
/// pointer (a state holds a dozen texts a request, so this is a tenth of its memory), and the
/// allocation has no weak count.
#[derive(Clone)]
pub struct Text(ThinArc<(), u8>);

impl Text {
    pub fn as_str(&self) -> &str {
        // SAFETY: a Text is made only from a `&str` (`From<&str>`, which every other
        // constructor goes through) and its bytes are never changed: they are valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0.slice) }
    }

    /// Replace the copy by a new one, allocated by this thread. A replay keeps what it applies
    /// in memory the applying thread allocated: then the parser's many short-lived allocations
    /// never share a memory page with a kept record, and are given back whole (with a
    /// thread-caching allocator, mixing them leaves most of each page empty but held).
    pub fn own(&mut self) {
        *self = Text::from(self.as_str());
    }

    /// Whether two texts share one copy (what interning gives).
    pub fn shares(&self, other: &Text) -> bool {
        self.0.as_ptr() == other.0.as_ptr()
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::from("")
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.shares(other) || self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    // As its string hashes: a set of texts is looked up by `&str` (`Borrow<str>`).
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(ThinArc::from_header_and_slice((), s.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text::from(v))
            }
        }
        // As a `String` is read: a reader-backed decoder (a checkpoint's) then lends the text
        // only for the copy, instead of keeping its bytes for the whole decoding.
        d.deserialize_string(Visitor)
    }
}

/// One copy of each text seen: [`Interner::share`] swaps a text for the copy already kept, or
/// keeps it. Owned by one state (never global: states are built on several threads at once),
/// and only a cache: two states with the same records are equal whatever their interners hold.
#[derive(Clone, Default)]
pub struct Interner {
    kept: HashSet<Text>,
    lists: HashSet<Arc<[Text]>>,
}

impl Interner {
    /// Make `text` the kept copy of its string.
    pub fn share(&mut self, text: &mut Text) {
        match self.kept.get(text.as_str()) {
            Some(kept) => {
                if !kept.shares(text) {
                    *text = kept.clone();
                }
            }
            None => {
                text.own();
                self.kept.insert(text.clone());
            }
        }
    }

    pub fn share_opt(&mut self, text: &mut Option<Text>) {
        if let Some(text) = text {
            self.share(text);
        }
    }

    pub fn share_all(&mut self, texts: &mut [Text]) {
        for text in texts {
            self.share(text);
        }
    }

    /// Make `list` the kept copy of its texts (the names of risk factors).
    pub fn share_list(&mut self, list: &mut Arc<[Text]>) {
        match self.lists.get(&**list) {
            Some(kept) => {
                if !Arc::ptr_eq(kept, list) {
                    *list = kept.clone();
                }
            }
            None => {
                let mut own: Vec<Text> = list.to_vec();
                for text in &mut own {
                    self.share(text);
                }
                *list = Arc::from(own);
                self.lists.insert(list.clone());
            }
        }
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

impl PartialEq for Interner {
    fn eq(&self, _: &Interner) -> bool {
        true
    }
}

impl fmt::Debug for Interner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Interner({} texts)", self.kept.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_serializes_reads_and_compares_as_its_string() {
        let text = Text::from("carol.baker \"x\"");
        assert_eq!(
            serde_json::to_string(&text).unwrap(),
            serde_json::to_string("carol.baker \"x\"").unwrap()
        );
        let back: Text = serde_json::from_str("\"a\\u00e9b\"").unwrap();
        assert_eq!(back, "aéb");
        assert_eq!(back.len(), 4);
        assert!(serde_json::from_str::<Text>("3").is_err());
        let bytes = postcard::to_stdvec(&text).unwrap();
        assert_eq!(bytes, postcard::to_stdvec("carol.baker \"x\"").unwrap());
        assert_eq!(postcard::from_bytes::<Text>(&bytes).unwrap(), text);
        assert_eq!(
            format!("{text} {text:?}"),
            "carol.baker \"x\" \"carol.baker \\\"x\\\"\""
        );
    }

    #[test]
    fn texts_order_hash_and_compare_as_their_strings_whatever_their_lengths() {
        // Shorter first but greater as a string: ordered by the string, not by its length.
        let (short, long) = (Text::from("b"), Text::from("abc"));
        assert!(long < short);
        assert_eq!(short.cmp(&Text::from("b")), std::cmp::Ordering::Equal);
        let mut set = HashSet::default();
        set.insert(Text::from("carol.baker"));
        assert!(set.contains("carol.baker"));
        assert!(!set.contains("carol.bake"));
        assert_eq!(Text::default(), "");
        assert_eq!(Text::from("é"), Text::from(String::from("é")));
    }

    #[test]
    fn a_text_is_one_word_wide_even_when_optional() {
        assert_eq!(size_of::<Text>(), size_of::<usize>());
        assert_eq!(size_of::<Option<Text>>(), size_of::<usize>());
    }

    #[test]
    fn interning_keeps_one_copy_and_every_value() {
        let mut interner = Interner::default();
        let mut a = Text::from("carol.baker");
        let mut b = Text::from(String::from("carol.baker"));
        let mut c = Text::from("martin.schulz");
        assert!(!a.shares(&b));
        interner.share(&mut a);
        interner.share(&mut b);
        interner.share(&mut c);
        assert!(a.shares(&b));
        assert_eq!(b, "carol.baker");
        assert_eq!(c, "martin.schulz");
        assert!(!a.shares(&c));
        assert_eq!(interner.len(), 2);
    }
}
