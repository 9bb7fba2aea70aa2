//! A YAML document as a tree of nodes that remember where they were written.
//!
//! `serde_yaml` loses positions once a value is deserialised, and every
//! diagnostic must name `file:line:column`, so descriptors are read with
//! `yaml-rust2`'s event parser into this tree and decoded by hand
//! (`decode.rs`). Syntax errors and duplicate keys become diagnostics here.

use crate::diagnostics::{Diagnostic, Loc};
use std::collections::{BTreeMap, HashMap};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `quoted` records whether it was written in quotes.
    Str {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Entries in source order; keys are scalars (others are reported).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The kind of node, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str { .. } => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// A scalar as text (numbers and booleans as written), for keys and
    /// string-like values.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str { text, .. } => Some(text.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The node as JSON (for instance values and initial values).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(Into::into)
                .unwrap_or(serde_json::Value::Null),
            Value::Str { text, .. } => text.clone().into(),
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            Value::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    map.insert(k.scalar_text().unwrap_or_default(), v.to_json());
                }
                serde_json::Value::Object(map)
            }
        }
    }
}

/// Parses one YAML document. An empty document is `Null`. Syntax errors
/// come back as a located diagnostic; duplicate keys as diagnostics beside
/// the (first-wins) tree.
pub fn parse(file: usize, text: &str) -> (Option<Node>, Vec<Diagnostic>) {
    let mut builder = Builder {
        file,
        text,
        stack: Vec::new(),
        root: None,
        anchors: BTreeMap::new(),
        diagnostics: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let m = e.marker();
        let loc = Loc {
            file,
            line: m.line().max(1) as u32,
            col: m.col() as u32 + 1,
            len: 1,
        };
        let d = Diagnostic::error(
            "yaml-syntax",
            Some(loc),
            "",
            format!("YAML syntax error: {}", e.info()),
        )
        .with_help("fix the YAML syntax at this position (check indentation, colons and quotes)");
        return (None, vec![d]);
    }
    let root = builder.root.take().unwrap_or(Node {
        value: Value::Null,
        loc: Loc {
            file,
            line: 1,
            col: 1,
            len: 1,
        },
    });
    (Some(root), builder.diagnostics)
}

enum Frame {
    Seq(Node, usize),
    /// The mapping, its anchor, a key waiting for its value, and the keys
    /// seen so far (for duplicate detection in constant time).
    Map(Node, usize, Option<Node>, HashMap<String, u32>),
}

struct Builder<'a> {
    file: usize,
    text: &'a str,
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: BTreeMap<usize, Node>,
    diagnostics: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn loc(&self, m: &Marker, len: usize) -> Loc {
        Loc {
            file: self.file,
            line: m.line().max(1) as u32,
            col: m.col() as u32 + 1,
            len: len.max(1) as u32,
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending, seen)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        let name = key.scalar_text();
                        if let Some(first_line) = name.as_ref().and_then(|n| seen.get(n)) {
                            let name = name.unwrap_or_default();
                            let d = Diagnostic::error(
                                "duplicate-key",
                                Some(key.loc),
                                "",
                                format!("duplicate key `{name}`"),
                            )
                            .with_help(format!(
                                "`{name}` is already defined at line {first_line}; keep only one of them"
                            ));
                            self.diagnostics.push(d);
                        } else if name.is_none() {
                            let d = Diagnostic::error(
                                "complex-key",
                                Some(key.loc),
                                "",
                                "mapping keys must be plain scalars",
                            )
                            .with_help("use a string as the key");
                            self.diagnostics.push(d);
                        } else {
                            seen.insert(name.unwrap_or_default(), key.loc.line);
                            entries.push((key, node));
                        }
                    }
                }
            },
        }
    }

    /// The length of a scalar as written on its line (quotes included).
    fn token_len(&self, m: &Marker, value: &str, style: TScalarStyle) -> usize {
        match style {
            TScalarStyle::Plain => value.lines().next().map(|l| l.chars().count()).unwrap_or(0),
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                let line = self
                    .text
                    .lines()
                    .nth(m.line().saturating_sub(1))
                    .unwrap_or("");
                let rest: String = line.chars().skip(m.col()).collect();
                let quote = rest.chars().next().unwrap_or('"');
                let mut len = 1;
                let mut escaped = false;
                for c in rest.chars().skip(1) {
                    len += 1;
                    if escaped {
                        escaped = false;
                    } else if c == '\\' && quote == '"' {
                        escaped = true;
                    } else if c == quote {
                        break;
                    }
                }
                len
            }
            _ => 1,
        }
    }
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Int(i);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    let looks_numeric = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if looks_numeric && !text.ends_with('.') {
        if let Ok(f) = text.parse::<f64>() {
            if f.is_finite() {
                return Value::Float(f);
            }
        }
    }
    Value::Str {
        text: text.to_string(),
        quoted: false,
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let len = self.token_len(&mark, &text, style);
                let value = if style == TScalarStyle::Plain {
                    resolve_plain(&text)
                } else {
                    Value::Str { text, quoted: true }
                };
                let node = Node {
                    value,
                    loc: self.loc(&mark, len),
                };
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let node = Node {
                    value: Value::Seq(Vec::new()),
                    loc: self.loc(&mark, 1),
                };
                self.stack.push(Frame::Seq(node, anchor));
            }
            Event::MappingStart(anchor, _) => {
                let node = Node {
                    value: Value::Map(Vec::new()),
                    loc: self.loc(&mark, 1),
                };
                self.stack
                    .push(Frame::Map(node, anchor, None, HashMap::new()));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor) = match frame {
                        Frame::Seq(n, a) => (n, a),
                        Frame::Map(n, a, _, _) => (n, a),
                    };
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().unwrap_or(Node {
                    value: Value::Null,
                    loc: self.loc(&mark, 1),
                });
                self.finish(node, 0);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_tokens() {
        let (root, diags) = parse(
            0,
            "name: demo\nresources:\n  db:\n    image: 'postgres:16'\n",
        );
        assert!(diags.is_empty());
        let root = root.unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("map")
        };
        assert_eq!((entries[0].0.loc.line, entries[0].0.loc.col), (1, 1));
        assert_eq!(
            (
                entries[0].1.loc.line,
                entries[0].1.loc.col,
                entries[0].1.loc.len
            ),
            (1, 7, 4)
        );
        let Value::Map(res) = &entries[1].1.value else {
            panic!("map")
        };
        let Value::Map(db) = &res[0].1.value else {
            panic!("map")
        };
        assert_eq!((db[0].0.loc.line, db[0].0.loc.col), (4, 5));
        assert_eq!((db[0].1.loc.col, db[0].1.loc.len), (12, 13));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_located() {
        let (_, diags) = parse(0, "a: 1\nb: 2\na: 3\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].loc.unwrap().line, 3);
        let (root, diags) = parse(0, "a: [1, 2\nb: 3\n");
        assert!(root.is_none());
        assert_eq!(diags[0].code, "yaml-syntax");
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_1_2() {
        assert_eq!(resolve_plain("5432"), Value::Int(5432));
        assert_eq!(resolve_plain("true"), Value::Bool(true));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("1.5"), Value::Float(1.5));
        assert!(matches!(resolve_plain("16-alpine"), Value::Str { .. }));
    }
}
