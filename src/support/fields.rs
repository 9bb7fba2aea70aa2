//! `Fields`: an instance's values or properties, a small map kept as one
//! sorted vector. An instance has a few of each, and a `serde_json::Map`
//! (a B-tree) takes a 632-byte node for even one entry: two maps per
//! instance were a quarter of the peak memory of planning 10,000 instances
//! (docs/benchmarks.md). Iterates, serialises and compares like the map it
//! replaces: entries in key order, a JSON object.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Entries sorted by key, each key once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(Vec<(String, Value)>);

impl Fields {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Entries in key order.
    pub fn iter(&self) -> <&Fields as IntoIterator>::IntoIter {
        self.into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// Sets `key`, returning what it held.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Keeps the entries for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Value) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }

    /// The same entries as a JSON map.
    pub fn to_map(&self) -> Map<String, Value> {
        self.0.iter().cloned().collect()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
}

impl From<Map<String, Value>> for Fields {
    /// A map's entries, already in key order, in a vector of their number.
    fn from(map: Map<String, Value>) -> Fields {
        let mut entries = Vec::with_capacity(map.len());
        entries.extend(map);
        Fields(entries)
    }
}

impl FromIterator<(String, Value)> for Fields {
    /// Entries in any order; a repeated key keeps its last value.
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Fields {
        let iter = iter.into_iter();
        let mut fields = Fields(Vec::with_capacity(iter.size_hint().0));
        for (k, v) in iter {
            fields.insert(k, v);
        }
        fields
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a String, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for Fields {
    type Output = Value;

    /// The value of `key`, or null, as a JSON map's index gives.
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        Map::<String, Value>::deserialize(deserializer).map(Fields::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_behave_as_the_json_map_they_replace() {
        let map: Map<String, Value> =
            serde_json::from_value(json!({"b": 2, "a": {"x": [1]}, "c": null})).unwrap();
        let mut fields = Fields::from(map.clone());
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(
            fields.iter().collect::<Vec<_>>(),
            map.iter().collect::<Vec<_>>()
        );
        assert_eq!((fields.get("a"), fields.get("z")), (map.get("a"), None));
        assert_eq!((&fields["b"], &fields["z"]), (&json!(2), &Value::Null));
        assert_eq!(fields.insert("b".into(), json!(3)), Some(json!(2)));
        assert_eq!(fields.insert("aa".into(), json!(4)), None);
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["a", "aa", "b", "c"]);
        let back: Fields = serde_json::from_str(r#"{"z": 1, "y": 2}"#).unwrap();
        assert_eq!(back.keys().collect::<Vec<_>>(), ["y", "z"]);
        assert_eq!(Fields::from(map.clone()).to_map(), map);
        let collected: Fields = [("q".to_string(), json!(1)), ("p".to_string(), json!(2))]
            .into_iter()
            .collect();
        assert_eq!(collected.keys().collect::<Vec<_>>(), ["p", "q"]);
    }
}
