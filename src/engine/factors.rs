//! A request's risk factors: names with their values, sorted by name, kept compactly. Almost
//! every request names the same few factors, so the list of names is shared (the state interns
//! it) and each request keeps only its values. Reads, writes and refuses exactly what a
//! `BTreeMap<String, f64>` does: a JSON object in key order, the map's postcard form.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use super::text::Text;

#[derive(Clone, PartialEq)]
pub struct RiskFactors {
    /// Sorted, no name twice.
    names: Arc<[Text]>,
    /// `values[i]` is the value of `names[i]`.
    values: Box<[f64]>,
}

impl RiskFactors {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The factors in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, f64)> + '_ {
        self.names
            .iter()
            .map(Text::as_str)
            .zip(self.values.iter().copied())
    }

    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.names.iter().map(Text::as_str)
    }

    /// The names in order, as a map's `keys`.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.names()
    }

    /// The values in name order, as a map's `values`.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &f64> + '_ {
        self.values.iter()
    }

    pub fn get(&self, name: &str) -> Option<&f64> {
        let i = self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()?;
        self.values.get(i)
    }

    /// Factors from their names, sorted with none twice, and their values in the same order.
    pub(crate) fn from_sorted(names: Arc<[Text]>, values: Box<[f64]>) -> Self {
        debug_assert!(names.len() == values.len() && names.is_sorted_by(|a, b| a < b));
        RiskFactors { names, values }
    }

    /// The list of names, for the state to share it between requests.
    pub(crate) fn names_mut(&mut self) -> &mut Arc<[Text]> {
        &mut self.names
    }

    /// Replace the values by a copy allocated by this thread (see [`Text::own`]).
    pub(crate) fn own_values(&mut self) {
        self.values = Box::from(&*self.values);
    }

    pub fn to_map(&self) -> BTreeMap<String, f64> {
        self.iter().map(|(n, v)| (n.to_string(), v)).collect()
    }
}

impl Default for RiskFactors {
    fn default() -> Self {
        RiskFactors {
            names: Arc::from(Vec::new()),
            values: Box::default(),
        }
    }
}

impl From<BTreeMap<String, f64>> for RiskFactors {
    fn from(map: BTreeMap<String, f64>) -> Self {
        let (names, values): (Vec<Text>, Vec<f64>) =
            map.into_iter().map(|(n, v)| (Text::from(n), v)).unzip();
        RiskFactors {
            names: Arc::from(names),
            values: values.into_boxed_slice(),
        }
    }
}

impl From<&BTreeMap<String, f64>> for RiskFactors {
    fn from(map: &BTreeMap<String, f64>) -> Self {
        let (names, values): (Vec<Text>, Vec<f64>) = map
            .iter()
            .map(|(n, v)| (Text::from(n.as_str()), *v))
            .unzip();
        RiskFactors {
            names: Arc::from(names),
            values: values.into_boxed_slice(),
        }
    }
}

impl<const N: usize> From<[(String, f64); N]> for RiskFactors {
    fn from(items: [(String, f64); N]) -> Self {
        RiskFactors::from(BTreeMap::from(items))
    }
}

impl FromIterator<(String, f64)> for RiskFactors {
    fn from_iter<I: IntoIterator<Item = (String, f64)>>(items: I) -> Self {
        RiskFactors::from(items.into_iter().collect::<BTreeMap<_, _>>())
    }
}

impl<'a> IntoIterator for &'a RiskFactors {
    type Item = (&'a str, f64);
    type IntoIter = std::iter::Zip<
        std::iter::Map<std::slice::Iter<'a, Text>, fn(&'a Text) -> &'a str>,
        std::iter::Copied<std::slice::Iter<'a, f64>>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        let name: fn(&'a Text) -> &'a str = Text::as_str;
        self.names.iter().map(name).zip(self.values.iter().copied())
    }
}

impl fmt::Debug for RiskFactors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for RiskFactors {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RiskFactors {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through the map itself: the same refusals, the same answer to a name given twice.
        BTreeMap::<String, f64>::deserialize(d).map(RiskFactors::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("test_coverage_gap".to_string(), 13.2),
            ("blast_radius".to_string(), 6.0),
            ("change_size".to_string(), 0.1),
            ("é".to_string(), -0.0),
        ])
    }

    #[test]
    fn factors_write_json_and_postcard_exactly_as_the_map() {
        let factors = RiskFactors::from(map());
        assert_eq!(
            serde_json::to_string(&factors).unwrap(),
            serde_json::to_string(&map()).unwrap()
        );
        assert_eq!(
            postcard::to_stdvec(&factors).unwrap(),
            postcard::to_stdvec(&map()).unwrap()
        );
        let empty = RiskFactors::default();
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
        assert_eq!(
            postcard::to_stdvec(&empty).unwrap(),
            postcard::to_stdvec(&BTreeMap::<String, f64>::new()).unwrap()
        );
        assert_eq!(format!("{factors:?}"), format!("{:?}", map()));
    }

    #[test]
    fn factors_read_back_and_refuse_what_the_map_refuses() {
        let json = r#"{"z":1.5,"a":2,"a":3.25}"#;
        let factors: RiskFactors = serde_json::from_str(json).unwrap();
        let expected: BTreeMap<String, f64> = serde_json::from_str(json).unwrap();
        assert_eq!(factors.to_map(), expected);
        assert_eq!(factors.get("a"), Some(&3.25));
        assert_eq!(factors.get("b"), None);
        assert_eq!(factors.names().collect::<Vec<_>>(), ["a", "z"]);
        for bad in [r#"{"a":"1"}"#, r#"[1]"#, r#"{"a":null}"#, r#"{"a":1"#, "3"] {
            let ours = serde_json::from_str::<RiskFactors>(bad).map_err(|e| e.to_string());
            let theirs =
                serde_json::from_str::<BTreeMap<String, f64>>(bad).map_err(|e| e.to_string());
            assert_eq!(ours.err(), theirs.err(), "{bad}");
        }
        let bytes = postcard::to_stdvec(&map()).unwrap();
        let back: RiskFactors = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, RiskFactors::from(map()));
        assert_eq!(back.iter().count(), 4);
    }
}
