//! Decoding located YAML nodes into typed values, one field at a time, so
//! that every problem is reported (with its position and YAML path) and
//! decoding carries on past it.

use super::{Node, Value};
use crate::diagnostics::{suggest, Diagnostic, Loc};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A name usable in container names and hostnames.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Where each YAML path was written: the key of a mapping entry and its
/// value, so later stages (checks, plan blockers) can point at source.
///
/// Recorded compactly as decoding goes ([`Log`]) and made into a map from
/// path to positions only when something is looked up: a clean load looks
/// up nothing, so it never builds the map (a path string and a hash entry
/// per mapping key, 12 MB and a fifth of decoding a 10,000-node project,
/// docs/benchmarks.md). The map is hashed with FxHash: the paths are our
/// own, not an attacker's choice of collisions worth SipHash's cost.
#[derive(Clone, Debug, Default)]
pub struct LocIndex {
    own: Log,
    /// Indexes recorded on other threads and joined to this one (each path
    /// is in one of them).
    joined: Vec<Log>,
    /// Names for paths that later stages cannot compute, e.g. the path of
    /// an input by its id (`[0].spec.values_ui.inputs#name` →
    /// `[0].spec.values_ui.inputs[3]`).
    aliases: FxHashMap<String, String>,
}

/// The positions one decoding recorded, in order: the paths' parts in one
/// string, a fixed-size record per position. Replayed in order into a map
/// on the first lookup, so the map is what recording into it directly gave
/// (a later record of a path overwriting what it records).
#[derive(Clone, Debug, Default)]
struct Log {
    text: String,
    records: Vec<Record>,
    map: OnceLock<FxHashMap<String, Locs>>,
}

/// One recorded position: the path is `parent.key`, or `parent` alone when
/// `whole` (ranges of the log's text).
#[derive(Clone, Copy, Debug)]
struct Record {
    parent: (u32, u32),
    key: (u32, u32),
    whole: bool,
    locs: Locs,
}

/// A parent path already in a log's text ([`LocIndex::parent`]).
#[derive(Clone, Copy, Debug)]
pub struct Parent((u32, u32));

/// The positions recorded for one path, packed in 36 bytes rather than
/// the 64 of two `Option<Loc>` (one per mapping key: 69,000 for a
/// 10,000-node project, docs/benchmarks.md).
#[derive(Clone, Copy, Debug, Default)]
struct Locs {
    /// File, line, column and length of the key, then of the value.
    key: [u32; 4],
    value: [u32; 4],
    has_key: bool,
    has_value: bool,
}

fn pack(loc: Loc) -> [u32; 4] {
    let file = u32::try_from(loc.file).expect("fewer than 2^32 source files");
    [file, loc.line, loc.col, loc.len]
}

fn unpack([file, line, col, len]: [u32; 4]) -> Loc {
    Loc {
        file: file as usize,
        line,
        col,
        len,
    }
}

impl Locs {
    fn key(&self) -> Option<Loc> {
        self.has_key.then(|| unpack(self.key))
    }

    fn value(&self) -> Option<Loc> {
        self.has_value.then(|| unpack(self.value))
    }
}

impl Log {
    /// Appends `s` to the text, as a range of it.
    fn add(&mut self, s: &str) -> (u32, u32) {
        let start = u32::try_from(self.text.len()).expect("paths under 4 GiB");
        self.text.push_str(s);
        (start, s.len() as u32)
    }

    fn part(&self, (start, len): (u32, u32)) -> &str {
        &self.text[start as usize..(start + len) as usize]
    }

    fn map(&self) -> &FxHashMap<String, Locs> {
        self.map.get_or_init(|| {
            let mut map =
                FxHashMap::with_capacity_and_hasher(self.records.len(), Default::default());
            for r in &self.records {
                self.apply(&mut map, r);
            }
            map
        })
    }

    /// Records `r`, into the map too if it was built (a lookup made while
    /// decoding, for a diagnostic).
    fn push(&mut self, r: Record) {
        if let Some(mut map) = self.map.take() {
            self.apply(&mut map, &r);
            let _ = self.map.set(map);
        }
        self.records.push(r);
    }

    fn apply(&self, map: &mut FxHashMap<String, Locs>, r: &Record) {
        let parent = self.part(r.parent);
        let path = if r.whole {
            parent.to_string()
        } else {
            join(parent, self.part(r.key))
        };
        let l = map.entry(path).or_default();
        if r.locs.has_key {
            l.key = r.locs.key;
            l.has_key = true;
        }
        if r.locs.has_value {
            l.value = r.locs.value;
            l.has_value = true;
        }
    }
}

impl LocIndex {
    /// An index for about `n` paths, sized once (growing it kept the old
    /// records beside the new ones at the peak of a load).
    pub fn with_capacity(n: usize) -> LocIndex {
        let mut index = LocIndex::default();
        index.reserve(n);
        index
    }

    /// Room for `n` more paths.
    pub fn reserve(&mut self, n: usize) {
        self.own.records.reserve(n);
        self.own.text.reserve(n * 8);
    }

    /// Joins an index recorded elsewhere (on another thread), whose paths
    /// this one does not hold.
    pub fn absorb(&mut self, other: LocIndex) {
        self.joined.push(other.own);
        self.joined.extend(other.joined);
        self.aliases.extend(other.aliases);
    }

    /// Every recorded path, sorted (for tests).
    #[cfg(test)]
    pub fn paths(&self) -> Vec<&str> {
        let mut all: Vec<&str> = std::iter::once(&self.own)
            .chain(&self.joined)
            .flat_map(|log| log.map().keys().map(String::as_str))
            .collect();
        all.sort_unstable();
        all
    }

    fn get(&self, path: &str) -> Option<&Locs> {
        self.own
            .map()
            .get(path)
            .or_else(|| self.joined.iter().find_map(|j| j.map().get(path)))
    }

    pub fn key(&self, path: &str) -> Option<Loc> {
        self.get(path).and_then(|l| l.key().or(l.value()))
    }

    pub fn value(&self, path: &str) -> Option<Loc> {
        self.get(path).and_then(|l| l.value().or(l.key()))
    }

    /// Records the position of the value at `path`.
    pub fn set_value(&mut self, path: &str, loc: Loc) {
        let parent = self.own.add(path);
        self.own.push(Record {
            parent,
            key: (0, 0),
            whole: true,
            locs: Locs {
                value: pack(loc),
                has_value: true,
                ..Locs::default()
            },
        });
    }

    /// The path of a mapping whose entries are recorded next
    /// ([`LocIndex::set_entry`]), written once for all of them.
    pub fn parent(&mut self, path: &str) -> Parent {
        Parent(self.own.add(path))
    }

    /// Records the key and value positions of the entry `key` of the
    /// mapping at `parent`.
    pub fn set_entry(&mut self, parent: Parent, key: &str, key_loc: Loc, value_loc: Loc) {
        let key = self.own.add(key);
        self.own.push(Record {
            parent: parent.0,
            key,
            whole: false,
            locs: Locs {
                key: pack(key_loc),
                value: pack(value_loc),
                has_key: true,
                has_value: true,
            },
        });
    }

    pub fn set_alias(&mut self, name: String, path: String) {
        self.aliases.insert(name, path);
    }

    pub fn alias(&self, name: &str) -> Option<&str> {
        self.aliases.get(name).map(String::as_str)
    }

    /// The nearest recorded position at or above `path`.
    pub fn nearest(&self, path: &str) -> Option<Loc> {
        let mut p = path.to_string();
        loop {
            if let Some(l) = self.key(&p) {
                return Some(l);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return None,
            }
        }
    }
}

/// The decoding context: collects diagnostics and positions.
pub struct Cx<'d> {
    pub diagnostics: &'d mut Vec<Diagnostic>,
    pub locs: LocIndex,
}

/// `path.key` (`key` at the top). Built by hand, not with `format!`: paths
/// are made for every node, and the formatting machinery was a tenth of
/// decoding a large project.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        return key.to_string();
    }
    let mut s = String::with_capacity(path.len() + 1 + key.len());
    s.push_str(path);
    s.push('.');
    s.push_str(key);
    s
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A mapping whose keys were checked against the allowed field names.
pub struct Fields<'n> {
    pub node: &'n Node,
    pub path: String,
    entries: Vec<(String, &'n Node, &'n Node)>,
    /// Field names already suggested for a misspelt key (not reported missing again).
    suggested: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, _, v)| *v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _, _)| k.as_str())
    }

    pub fn key_loc(&self, key: &str) -> Option<Loc> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, k, _)| k.loc)
    }

    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Whether an unknown key was reported with `key` as its suggestion
    /// (so a "missing `key`" error would only repeat it).
    pub fn suggested(&self, key: &str) -> bool {
        self.suggested.contains(&key)
    }
}

impl Cx<'_> {
    pub fn error(
        &mut self,
        code: &'static str,
        loc: Loc,
        path: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::error(code, Some(loc), path, message).with_help(help));
    }

    pub fn warning(
        &mut self,
        code: &'static str,
        loc: Loc,
        path: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::warning(code, Some(loc), path, message).with_help(help));
    }

    /// Records the position of a value addressed by `path`.
    pub fn locs_value(&mut self, path: &str, node: &Node) {
        self.locs.set_value(path, node.loc);
    }

    pub fn type_error(&mut self, node: &Node, path: &str, expected: &str) {
        self.error(
            "wrong-type",
            node.loc,
            path,
            format!("expected {expected}, found {}", node.kind()),
            format!("write {expected} here"),
        );
    }

    /// Entries of a mapping with string keys, positions recorded. `None`
    /// (after a diagnostic) when the node is not a mapping.
    pub fn entries<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
    ) -> Option<Vec<(String, &'n Node, &'n Node)>> {
        match &node.value {
            Value::Map(entries) => {
                let parent = self.locs.parent(path);
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let name = k.scalar_text().unwrap_or_default();
                    self.locs.set_entry(parent, &name, k.loc, v.loc);
                    out.push((name, k, v));
                }
                Some(out)
            }
            Value::Null => Some(Vec::new()),
            _ => {
                self.type_error(node, path, "a mapping");
                None
            }
        }
    }

    /// A mapping with a fixed set of fields; unknown ones are reported with a
    /// suggestion.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &[&'static str],
    ) -> Option<Fields<'n>> {
        let entries = self.entries(node, path)?;
        let mut suggested = Vec::new();
        for (name, k, _) in &entries {
            if !allowed.contains(&name.as_str()) {
                let p = join(path, name);
                let help = match suggest(name, allowed.iter().copied()) {
                    Some(s) => {
                        suggested.push(s);
                        format!("did you mean `{s}`?")
                    }
                    None => format!(
                        "remove it; the fields allowed here are: {}",
                        allowed.join(", ")
                    ),
                };
                let where_ = if path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in {path}")
                };
                self.error(
                    "unknown-field",
                    k.loc,
                    &p,
                    format!("unknown field `{name}` {where_}"),
                    help,
                );
            }
        }
        Some(Fields {
            node,
            path: path.to_string(),
            entries,
            suggested,
        })
    }

    pub fn required<'n>(&mut self, f: &Fields<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let n = f.get(key);
        if n.is_none() && !f.suggested.contains(&key) {
            let loc = self.locs.key(&f.path).unwrap_or(f.node.loc);
            let where_ = if f.path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in {}", f.path)
            };
            self.error(
                "missing-field",
                loc,
                &f.path,
                format!("missing required field `{key}` {where_}"),
                format!("add `{key}:` with {what}"),
            );
        }
        n
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str { text, .. } => Some(text.clone()),
            _ => {
                self.type_error(node, path, "a string");
                None
            }
        }
    }

    /// A string-like scalar (numbers and booleans as written), like docker
    /// compose does for environment values.
    pub fn scalar(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Seq(_) | Value::Map(_) | Value::Null => {
                self.type_error(node, path, "a string");
                None
            }
            _ => node.scalar_text(),
        }
    }

    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.type_error(node, path, "`true` or `false`");
                None
            }
        }
    }

    pub fn integer(&mut self, node: &Node, path: &str, min: i64, max: i64) -> Option<i64> {
        match &node.value {
            Value::Int(i) if (min..=max).contains(i) => Some(*i),
            Value::Int(i) => {
                self.error(
                    "out-of-range",
                    node.loc,
                    path,
                    format!("{i} is out of range"),
                    format!("use a whole number from {min} to {max}"),
                );
                None
            }
            _ => {
                self.type_error(node, path, &format!("a whole number from {min} to {max}"));
                None
            }
        }
    }

    pub fn port(&mut self, node: &Node, path: &str) -> Option<u16> {
        self.integer(node, path, 1, 65535).map(|p| p as u16)
    }

    /// `KEY: value` pairs of string-like scalars.
    pub fn string_map(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, _, v) in self.entries(node, path).unwrap_or_default() {
            if let Some(s) = self.scalar(v, &join(path, &k)) {
                out.insert(k, s);
            }
        }
        out
    }

    pub fn string_list(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let p = index(path, i);
                    self.locs.set_value(&p, item.loc);
                    if let Some(s) = self.scalar(item, &p) {
                        out.push(s);
                    }
                }
                Some(out)
            }
            _ => {
                self.type_error(node, path, "a list of strings");
                None
            }
        }
    }

    /// Checks a name against one of the allowed words.
    pub fn one_of(
        &mut self,
        node: &Node,
        path: &str,
        allowed: &[&str],
        code: &'static str,
        what: &str,
    ) -> Option<String> {
        let s = self.string(node, path)?;
        if allowed.contains(&s.as_str()) {
            return Some(s);
        }
        let help = match suggest(&s, allowed.iter().copied()) {
            Some(x) => format!(
                "did you mean `{x}`? ({what} must be one of: {})",
                allowed.join(", ")
            ),
            None => format!("{what} must be one of: {}", allowed.join(", ")),
        };
        self.error(code, node.loc, path, format!("unknown {what} `{s}`"), help);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_positions_read_back_as_recorded() {
        let at = |file, line, col, len| Loc {
            file,
            line,
            col,
            len,
        };
        let mut locs = LocIndex::with_capacity(2);
        let a = locs.parent("a");
        locs.set_entry(a, "b", at(1, 2, 3, 4), at(1, 2, 6, 9));
        locs.set_value("a.c[0]", at(2, 7, 5, 1));
        assert_eq!(locs.key("a.b"), Some(at(1, 2, 3, 4)));
        assert_eq!(locs.value("a.b"), Some(at(1, 2, 6, 9)));
        // A path with only a value answers for its key too.
        assert_eq!(locs.key("a.c[0]"), Some(at(2, 7, 5, 1)));
        assert_eq!(locs.value("a.c[0]"), Some(at(2, 7, 5, 1)));
        assert_eq!(locs.key("a.d"), None);
        assert_eq!(locs.nearest("a.b.x"), Some(at(1, 2, 3, 4)));
    }

    #[test]
    fn positions_recorded_in_order_read_back_as_if_mapped_at_once() {
        let at = |line| Loc {
            file: 0,
            line,
            col: 1,
            len: 1,
        };
        let mut locs = LocIndex::default();
        let top = locs.parent("");
        locs.set_entry(top, "a", at(1), at(2));
        locs.set_entry(top, "", at(3), at(4));
        let a = locs.parent("a");
        locs.set_entry(a, "b", at(5), at(6));
        // Looked up while recording (a diagnostic while decoding): what is
        // recorded afterwards is found too.
        assert_eq!(locs.key("a.b"), Some(at(5)));
        assert_eq!(locs.key("a."), None);
        locs.set_entry(a, "", at(7), at(8));
        // A later record of a path overwrites what it records, and only that.
        locs.set_value("a.b", at(9));
        locs.set_entry(a, "c", at(10), at(11));
        locs.set_value("a.c", at(12));
        locs.set_entry(a, "c", at(13), at(14));
        let mut other = LocIndex::default();
        other.set_value("a.b", at(20));
        other.set_value("d[0]", at(21));
        locs.absorb(other);
        assert_eq!(locs.key("a"), Some(at(1)));
        assert_eq!(locs.value(""), Some(at(4)));
        assert_eq!(locs.key("a."), Some(at(7)));
        assert_eq!(
            (locs.key("a.b"), locs.value("a.b")),
            (Some(at(5)), Some(at(9)))
        );
        assert_eq!(
            (locs.key("a.c"), locs.value("a.c")),
            (Some(at(13)), Some(at(14)))
        );
        // Joined indexes answer for the paths this one lacks.
        assert_eq!(locs.key("d[0]"), Some(at(21)));
        assert_eq!(locs.nearest("d[0].x.y"), Some(at(21)));
        assert_eq!(locs.paths(), ["", "a", "a.", "a.b", "a.b", "a.c", "d[0]"]);
        // A copy answers alike, built or not.
        assert_eq!(locs.clone().value("a.b"), Some(at(9)));
    }
}
