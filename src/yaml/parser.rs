//! A YAML document as a tree of nodes that remember where they were written.
//!
//! `serde_yaml` loses positions once a value is deserialised, and every
//! diagnostic must name `file:line:column`, so descriptors are read with
//! `yaml-rust2`'s event parser into this tree and decoded by hand
//! (`decode.rs`). Syntax errors and duplicate keys become diagnostics here.

use crate::diagnostics::{Diagnostic, Loc};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::mpsc;
use yaml_rust2::parser::{Event, ParseResult, Parser};
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

    /// How many entries its mappings and items its lists hold, nested
    /// ones included: about how many paths decoding it records.
    pub fn paths(&self) -> usize {
        match &self.value {
            Value::Seq(items) => items.len() + items.iter().map(Node::paths).sum::<usize>(),
            Value::Map(entries) => {
                entries.len() + entries.iter().map(|(_, v)| v.paths()).sum::<usize>()
            }
            _ => 0,
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

/// How deep collections may nest. Descriptors need a dozen levels; the limit
/// keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 128;

/// How many nodes aliases may expand to in total ("billion laughs").
pub const MAX_ALIAS_NODES: usize = 100_000;

/// Parses one YAML document. An empty document is `Null`. Syntax errors
/// come back as a located diagnostic; duplicate keys as diagnostics beside
/// the (first-wins) tree.
pub fn parse(file: usize, text: &str) -> (Option<Node>, Vec<Diagnostic>) {
    if let Some(parsed) = super::fast::parse(file, text) {
        return parsed;
    }
    parse_with(file, text, text.len() >= PIPELINE_BYTES)
}

/// From this size on, a text is scanned on a second thread while its tree
/// is built (`Piped`): yaml-rust2's scanner and parser take about two
/// thirds of parsing a large descriptor, building the tree the rest
/// (docs/benchmarks.md). Below it a thread costs more than it saves.
const PIPELINE_BYTES: usize = 32 * 1024;

/// [`parse`] by yaml-rust2, scanning on a second thread when `piped` (and one starts).
/// Both ways see the same events in the same order, so build the same tree
/// and report the same diagnostics.
pub(super) fn parse_with(file: usize, text: &str, piped: bool) -> (Option<Node>, Vec<Diagnostic>) {
    if !piped {
        return build(file, text, Parser::new_from_str(text));
    }
    std::thread::scope(|s| match Piped::start(s, text) {
        Some(events) => build(file, text, events),
        None => build(file, text, Parser::new_from_str(text)),
    })
}

/// Where the builder takes its events from.
trait Events {
    fn next_event(&mut self) -> ParseResult;
}

impl<T: Iterator<Item = char>> Events for Parser<T> {
    fn next_event(&mut self) -> ParseResult {
        self.next_token()
    }
}

/// Events scanned by another thread, handed over in batches; emptied
/// batches go back to it, so a large text is parsed in a few buffers.
struct Piped {
    full: mpsc::Receiver<Vec<ParseResult>>,
    spent: mpsc::SyncSender<Vec<ParseResult>>,
    /// The current batch, reversed: the next event is the last.
    batch: Vec<ParseResult>,
}

/// Events per batch, and batches in flight each way.
const BATCH: usize = 2048;
const IN_FLIGHT: usize = 2;

impl Piped {
    /// Starts the scanning thread; `None` when no thread starts.
    fn start<'s>(scope: &'s std::thread::Scope<'s, '_>, text: &'s str) -> Option<Piped> {
        let (to_builder, full) = mpsc::sync_channel(IN_FLIGHT);
        let (spent, from_builder) = mpsc::sync_channel(IN_FLIGHT);
        std::thread::Builder::new()
            .name("yaml-scanner".into())
            .spawn_scoped(scope, move || scan(text, &to_builder, &from_builder))
            .ok()?;
        Some(Piped {
            full,
            spent,
            batch: Vec::new(),
        })
    }
}

/// The scanning thread: every event of `text` until the end of the stream
/// or the first error, or until the builder stops listening.
fn scan(
    text: &str,
    to_builder: &mpsc::SyncSender<Vec<ParseResult>>,
    from_builder: &mpsc::Receiver<Vec<ParseResult>>,
) {
    let mut parser = Parser::new_from_str(text);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let event = parser.next_token();
        let last = matches!(event, Err(_) | Ok((Event::StreamEnd, _)));
        batch.push(event);
        if last || batch.len() == BATCH {
            if to_builder.send(batch).is_err() || last {
                return;
            }
            batch = from_builder
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        }
    }
}

impl Events for Piped {
    fn next_event(&mut self) -> ParseResult {
        loop {
            if let Some(event) = self.batch.pop() {
                return event;
            }
            let _ = self.spent.try_send(std::mem::take(&mut self.batch));
            match self.full.recv() {
                Ok(mut batch) => {
                    batch.reverse();
                    self.batch = batch;
                }
                // The scanner stopped without an end or an error: it
                // panicked (as it would have here, unpiped).
                Err(_) => panic!("the YAML scanner thread panicked"),
            }
        }
    }
}

/// Builds the tree of one document from `events`.
fn build(file: usize, text: &str, mut events: impl Events) -> (Option<Node>, Vec<Diagnostic>) {
    let mut builder = Builder::new(file, text);
    let mut documents = 0usize;
    loop {
        let (ev, mark) = match events.next_event() {
            Ok(x) => x,
            Err(e) => {
                let d = builder.syntax_error(&Mark::from(e.marker()), e.info());
                return (None, vec![d]);
            }
        };
        let mark = Mark::from(&mark);
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    let loc = builder.loc(&mark, 3);
                    let d = Diagnostic::error(
                        "multiple-documents",
                        Some(loc),
                        "",
                        "a descriptor holds exactly one YAML document, this is a second one",
                    )
                    .with_help("remove this `---` and everything after it, or merge it into the first document");
                    builder.diagnostics.push(d);
                    break;
                }
            }
            ev => {
                if let Err(d) = builder.event(ev, mark) {
                    return (None, vec![*d]);
                }
            }
        }
    }
    builder.into_result()
}

/// Where an event starts: its line (from 1) and column (in characters,
/// from 0), as yaml-rust2's scanner counts them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Mark {
    pub line: usize,
    pub col: usize,
}

impl From<&Marker> for Mark {
    fn from(m: &Marker) -> Mark {
        Mark {
            line: m.line(),
            col: m.col(),
        }
    }
}

/// A collection being built. Its YAML path is not stored: it follows from
/// the frames below it and is computed only when a diagnostic needs it
/// (`path_of`), as building one per collection was a tenth of loading a
/// large project (docs/benchmarks.md).
enum Frame {
    /// The collection being built (its children not in it yet), its anchor
    /// id and where its items start in the builder's `items`.
    Seq(Node, usize, usize),
    /// ... the key waiting for its value, once the mapping has more than
    /// [`SCAN_KEYS`] entries its keys with their lines (duplicate detection
    /// in constant time per key; smaller mappings compare keys in place,
    /// allocating nothing), and where its entries start in the builder's
    /// `entries`.
    Map(
        Node,
        usize,
        Option<Node>,
        Option<FxHashMap<String, u32>>,
        usize,
    ),
}

/// Up to this many entries, a mapping finds a duplicate key by comparing
/// the keys it holds.
const SCAN_KEYS: usize = 8;

/// A scalar key's text, borrowed when it is a string.
fn key_text(key: &Node) -> Option<std::borrow::Cow<'_, str>> {
    match &key.value {
        Value::Str { text, .. } => Some(std::borrow::Cow::Borrowed(text)),
        _ => key.scalar_text().map(std::borrow::Cow::Owned),
    }
}

/// The line of the entry of `entries` whose key is `name`.
fn line_of_key(
    entries: &[(Node, Node)],
    seen: Option<&FxHashMap<String, u32>>,
    name: &str,
) -> Option<u32> {
    match seen {
        Some(seen) => seen.get(name).copied(),
        None => entries
            .iter()
            .find(|(k, _)| key_text(k).is_some_and(|t| t == name))
            .map(|(k, _)| k.loc.line),
    }
}

pub(super) struct Builder<'a> {
    file: usize,
    text: &'a str,
    /// How many lines the text has (`str::lines`), for every position.
    line_count: usize,
    /// The text's lines, split once when a quoted scalar or a position
    /// past the end needs one (splitting every text was 1 % of loading a
    /// large project, where scalars are plain).
    lines: std::cell::OnceCell<Vec<&'a str>>,
    stack: Vec<Frame>,
    /// The items and entries of the open collections, innermost last, each
    /// moved into a vector of its exact size when its collection ends: one
    /// allocation per collection, where growing each by doubling and
    /// shrinking it to fit took three and faulted in fresh pages for the
    /// large ones (docs/benchmarks.md).
    items: Vec<Node>,
    entries: Vec<(Node, Node)>,
    root: Option<Node>,
    /// Anchored nodes and their sizes in nodes.
    anchors: BTreeMap<usize, (Node, usize)>,
    alias_nodes: usize,
    diagnostics: Vec<Diagnostic>,
}

fn size(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(size).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
        _ => 0,
    }
}

impl<'a> Builder<'a> {
    pub(super) fn new(file: usize, text: &'a str) -> Builder<'a> {
        Builder {
            file,
            text,
            line_count: line_count(text),
            lines: std::cell::OnceCell::new(),
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            root: None,
            anchors: BTreeMap::new(),
            alias_nodes: 0,
            diagnostics: Vec::new(),
        }
    }

    /// The tree built (`Null` for an empty document) and its diagnostics.
    pub(super) fn into_result(mut self) -> (Option<Node>, Vec<Diagnostic>) {
        let root = self.root.take().unwrap_or(Node {
            value: Value::Null,
            loc: Loc {
                file: self.file,
                line: 1,
                col: 1,
                len: 1,
            },
        });
        (Some(root), self.diagnostics)
    }

    /// How many lines the text has.
    pub(super) fn line_count(&self) -> usize {
        self.line_count
    }

    /// The text's lines.
    fn lines(&self) -> &[&'a str] {
        self.lines.get_or_init(|| self.text.lines().collect())
    }

    /// A position, clamped to the text (the scanner reports the end of
    /// input one line past the last one).
    fn loc(&self, m: &Mark, len: usize) -> Loc {
        let mut line = m.line.max(1);
        let mut col = m.col + 1;
        let lines = self.line_count;
        if line > lines {
            line = lines.max(1);
            col = self
                .lines()
                .get(line - 1)
                .map(|l| l.chars().count() + 1)
                .unwrap_or(1);
        }
        Loc {
            file: self.file,
            line: line as u32,
            col: col as u32,
            len: len.max(1) as u32,
        }
    }

    /// The YAML path of the node the next event starts.
    fn next_path(&self) -> String {
        self.path_of(self.stack.len())
    }

    /// The YAML path of the collection `stack[depth]` (of the next node
    /// when `depth` is the stack's height): each frame below it adds its
    /// index or key.
    fn path_of(&self, depth: usize) -> String {
        let mut path = String::new();
        for (i, frame) in self.stack[..depth].iter().enumerate() {
            match frame {
                Frame::Seq(_, _, start) => {
                    // Its items end where those of the next list open
                    // inside it start.
                    let end = self.stack[i + 1..]
                        .iter()
                        .find_map(|f| match f {
                            Frame::Seq(_, _, s) => Some(*s),
                            Frame::Map(..) => None,
                        })
                        .unwrap_or(self.items.len());
                    path = super::decode::index(&path, end - start);
                }
                // A key (`None`) has its mapping's path.
                Frame::Map(_, _, None, ..) => {}
                Frame::Map(_, _, Some(key), ..) => {
                    let name = key_text(key).unwrap_or(std::borrow::Cow::Borrowed("?"));
                    path = super::decode::join(&path, &name);
                }
            }
        }
        path
    }

    fn syntax_error(&self, m: &Mark, info: &str) -> Diagnostic {
        let mut loc = self.loc(m, 1);
        let mut help = self.syntax_help(info, &mut loc);
        // An unclosed `[` or `{` is the usual cause of errors further down.
        if let Some(unclosed) = self.unclosed_flow_help() {
            help = unclosed;
        }
        let path = self.next_path();
        Diagnostic::error(
            "yaml-syntax",
            Some(loc),
            path,
            format!("YAML syntax error: {info}"),
        )
        .with_help(help)
    }

    /// The advice for the scanner's message `info`, moving `loc` to what
    /// the message is about (the line's content, a tab).
    fn syntax_help(&self, info: &str, loc: &mut Loc) -> String {
        if info.contains("did not find expected key") {
            // Usually a line indented differently from its siblings: point
            // at the start of its content.
            if let Some(line) = self.text.lines().nth(loc.line as usize - 1) {
                let indent = line.chars().take_while(|c| *c == ' ').count();
                if indent < line.chars().count() {
                    loc.col = indent as u32 + 1;
                    loc.len = line.trim().chars().count().max(1) as u32;
                }
            }
            "check the indentation of this line: the keys of one mapping start in the same column, and nested values are indented further than their key".to_string()
        } else if info.contains("tab") {
            // Point at the tab itself.
            if let Some(line) = self.text.lines().nth(loc.line as usize - 1) {
                if let Some(i) = line.chars().position(|c| c == '\t') {
                    loc.col = i as u32 + 1;
                }
            }
            "indent with spaces: YAML does not allow tabs for indentation".to_string()
        } else if info.contains("quoted scalar") {
            "close the quoted string that starts here (or the one before it)".to_string()
        } else {
            "fix the YAML syntax at this position (check indentation, colons and quotes)"
                .to_string()
        }
    }

    /// The advice when the error lies inside a flow collection (`[` or
    /// `{`), the innermost one, which is likely left unclosed.
    fn unclosed_flow_help(&self) -> Option<String> {
        for frame in self.stack.iter().rev() {
            let node = match frame {
                Frame::Seq(n, ..) | Frame::Map(n, ..) => n,
            };
            let opener = self
                .text
                .lines()
                .nth(node.loc.line as usize - 1)
                .and_then(|l| l.chars().nth(node.loc.col as usize - 1));
            if let Some(c @ ('[' | '{')) = opener {
                let close = if c == '[' { ']' } else { '}' };
                return Some(format!(
                    "this is inside the `{c}` opened at line {}, column {}: check that it is closed with `{close}`",
                    node.loc.line, node.loc.col
                ));
            }
        }
        None
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let n = size(&node);
            self.anchors.insert(anchor, (node.clone(), n));
        }
        let depth = self.stack.len();
        let (key, start) = match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                return;
            }
            Some(Frame::Seq(..)) => {
                self.items.push(node);
                return;
            }
            Some(Frame::Map(_, _, pending @ None, ..)) => {
                *pending = Some(node);
                return;
            }
            Some(Frame::Map(_, _, pending, _, start)) => {
                (pending.take().expect("a pending key"), *start)
            }
        };
        let Some(Frame::Map(_, _, _, seen, _)) = self.stack.last_mut() else {
            unreachable!("the frame matched above")
        };
        let entries = &self.entries[start..];
        let Some(name) = key_text(&key) else {
            let d = Diagnostic::error(
                "complex-key",
                Some(key.loc),
                self.path_of(depth - 1),
                format!("a mapping key must be a plain scalar, found {}", key.kind()),
            )
            .with_help("use a string as the key");
            self.diagnostics.push(d);
            return;
        };
        if let Some(first_line) = line_of_key(entries, seen.as_ref(), &name) {
            let name = name.into_owned();
            let path = super::decode::join(&self.path_of(depth - 1), &name);
            let d = Diagnostic::error(
                "duplicate-key",
                Some(key.loc),
                path,
                format!("duplicate key `{name}`"),
            )
            .with_help(format!(
                "`{name}` is already defined at line {first_line}; keep only one of them"
            ));
            self.diagnostics.push(d);
            return;
        }
        match seen {
            Some(seen) => {
                seen.insert(name.into_owned(), key.loc.line);
            }
            None if entries.len() >= SCAN_KEYS => {
                let mut all: FxHashMap<String, u32> = entries
                    .iter()
                    .filter_map(|(k, _)| Some((key_text(k)?.into_owned(), k.loc.line)))
                    .collect();
                all.insert(name.into_owned(), key.loc.line);
                *seen = Some(all);
            }
            None => drop(name),
        }
        self.entries.push((key, node));
    }

    /// The length of a scalar as written on its line (quotes included).
    fn token_len(&self, m: &Mark, value: &str, style: TScalarStyle) -> usize {
        match style {
            TScalarStyle::Plain => first_line_chars(value),
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                let line = self
                    .lines()
                    .get(m.line.saturating_sub(1))
                    .copied()
                    .unwrap_or("");
                let rest: String = line.chars().skip(m.col).collect();
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

    fn push(&mut self, frame: Frame, mark: &Mark) -> Result<(), Box<Diagnostic>> {
        if self.stack.len() >= MAX_DEPTH {
            let d = Diagnostic::error(
                "yaml-syntax",
                Some(self.loc(mark, 1)),
                self.next_path(),
                format!("YAML nested deeper than {MAX_DEPTH} levels"),
            )
            .with_help("descriptors need only a few levels of nesting: flatten this structure");
            return Err(Box::new(d));
        }
        self.stack.push(frame);
        Ok(())
    }

    pub(super) fn event(&mut self, ev: Event, mark: Mark) -> Result<(), Box<Diagnostic>> {
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let len = self.token_len(&mark, &text, style);
                let value = if style == TScalarStyle::Plain {
                    resolve_plain(text)
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
                self.push(Frame::Seq(node, anchor, self.items.len()), &mark)?;
            }
            Event::MappingStart(anchor, _) => {
                let node = Node {
                    value: Value::Map(Vec::new()),
                    loc: self.loc(&mark, 1),
                };
                let start = self.entries.len();
                self.push(Frame::Map(node, anchor, None, None, start), &mark)?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    // Of its exact size (`Drain` knows its length): a
                    // mapping grown by doubling held room for twice its
                    // entries (a third of the tree of a 10,000-node
                    // project, docs/benchmarks.md).
                    let (mut node, anchor) = match frame {
                        Frame::Seq(mut n, a, start) => {
                            n.value = Value::Seq(self.items.drain(start..).collect());
                            (n, a)
                        }
                        Frame::Map(mut n, a, _, _, start) => {
                            n.value = Value::Map(self.entries.drain(start..).collect());
                            (n, a)
                        }
                    };
                    // The scanner places a block mapping at the `:` after
                    // its first key; point at the key instead.
                    if let Value::Map(entries) = &node.value {
                        if let Some((k, _)) = entries.first() {
                            if (k.loc.line, k.loc.col) < (node.loc.line, node.loc.col) {
                                node.loc = k.loc;
                            }
                        }
                    }
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some((node, n)) => {
                        self.alias_nodes += n;
                        if self.alias_nodes > MAX_ALIAS_NODES {
                            let d = Diagnostic::error(
                                "yaml-syntax",
                                Some(self.loc(&mark, 1)),
                                self.next_path(),
                                format!("YAML aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                            )
                            .with_help("write the values out instead of nesting aliases");
                            return Err(Box::new(d));
                        }
                        // The alias's own position, so diagnostics point here.
                        let mut node = node.clone();
                        node.loc = self.loc(&mark, 1);
                        node
                    }
                    None => Node {
                        value: Value::Null,
                        loc: self.loc(&mark, 1),
                    },
                };
                self.finish(node, 0);
            }
            _ => {}
        }
        Ok(())
    }
}

/// How many lines `text` has, as `str::lines` counts them: one per line
/// break, and the last line when it has none.
fn line_count(text: &str) -> usize {
    let breaks = text.bytes().filter(|&b| b == b'\n').count();
    breaks + usize::from(!text.is_empty() && !text.ends_with('\n'))
}

/// The characters of the first line of `value` (`str::lines` semantics:
/// up to the first `\n`, without a `\r` before it), counted as bytes when
/// they are ASCII (a line iterator and a character count per scalar were
/// 2 % of loading a 10,000-node project).
fn first_line_chars(value: &str) -> usize {
    let line = match value.bytes().position(|b| b == b'\n') {
        Some(i) => value[..i].strip_suffix('\r').unwrap_or(&value[..i]),
        None => value,
    };
    if line.is_ascii() {
        line.len()
    } else {
        line.chars().count()
    }
}

/// A plain scalar's value; a string keeps `text` (moved, not copied).
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
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
        text,
        quoted: false,
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
    fn diagnostics_carry_yaml_paths_and_block_mappings_start_at_their_key() {
        let (_, diags) = parse(0, "a:\n  b: 1\n  b: 2\n");
        assert_eq!(diags[0].path, "a.b");
        let (_, diags) = parse(0, "a:\n  list: [1, 2\n  c: 3\n");
        assert_eq!(diags[0].code, "yaml-syntax");
        assert!(diags[0].path.starts_with("a.list"), "{}", diags[0].path);
        assert!(diags[0]
            .help
            .as_deref()
            .unwrap()
            .contains("line 2, column 9"));
        let (_, diags) = parse(0, "a: 1\n---\nb: 2\n");
        assert_eq!(diags[0].code, "multiple-documents");
        assert_eq!(diags[0].loc.unwrap().line, 2);
        let (root, _) = parse(0, "x:\n  key: v\n");
        let Value::Map(entries) = &root.unwrap().value else {
            panic!("map")
        };
        assert_eq!((entries[0].1.loc.line, entries[0].1.loc.col), (2, 3));
    }

    #[test]
    fn duplicates_are_found_in_small_and_large_mappings_with_their_paths() {
        // Small mappings compare keys in place, large ones hash them.
        let mut big = String::from("top:\n  - skip: 0\n  - m:\n");
        for i in 0..20 {
            big.push_str(&format!("      k{i}: {i}\n"));
        }
        big.push_str("      k3: again\n      k19: again\n      7: int\n      7: again\n");
        let (root, diags) = parse(0, &big);
        let found: Vec<(&str, u32, &str)> = diags
            .iter()
            .map(|d| {
                (
                    d.path.as_str(),
                    d.loc.unwrap().line,
                    d.help.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                (
                    "top[1].m.k3",
                    24,
                    "`k3` is already defined at line 7; keep only one of them"
                ),
                (
                    "top[1].m.k19",
                    25,
                    "`k19` is already defined at line 23; keep only one of them"
                ),
                (
                    "top[1].m.7",
                    27,
                    "`7` is already defined at line 26; keep only one of them"
                ),
            ]
        );
        let Value::Map(top) = &root.unwrap().value else {
            panic!("map")
        };
        let Value::Seq(items) = &top[0].1.value else {
            panic!("seq")
        };
        let Value::Map(m) = &items[1].value else {
            panic!("map")
        };
        let Value::Map(m) = &m[0].1.value else {
            panic!("map")
        };
        assert_eq!(m.len(), 21, "first wins, duplicates dropped");
        let (_, diags) = parse(
            0,
            "a:\n  - {x: 1, x: 2}\n  - - 1\n    - [k]: 2\nb:\n  - 1\n  - c:\n      - 2\n      - {y: 1, y: 2}\n    d: [[1, {z: 1, z: 2}]]\n",
        );
        let found: Vec<(&str, &str)> = diags.iter().map(|d| (d.code, d.path.as_str())).collect();
        assert_eq!(
            found,
            [
                ("duplicate-key", "a[0].x"),
                ("complex-key", "a[1][1]"),
                ("duplicate-key", "b[1].c[1].y"),
                ("duplicate-key", "b[1].d[0][1].z"),
            ]
        );
    }

    #[test]
    fn lines_are_counted_as_lines_counts_them() {
        for t in [
            "", "a", "a\n", "\n", "a\nb", "a\r\n", "a\r", "\n\n", "a\n\nb\n",
        ] {
            assert_eq!(line_count(t), t.lines().count(), "{t:?}");
        }
    }

    #[test]
    fn the_first_line_is_counted_as_lines_counts_it() {
        for v in [
            "",
            "abc",
            "a\nb",
            "\nx",
            "ab\r\ncd",
            "ab\r",
            "é\u{1F600}x\ny",
            "x\r\r\n",
        ] {
            let want = v.lines().next().map(|l| l.chars().count()).unwrap_or(0);
            assert_eq!(first_line_chars(v), want, "{v:?}");
        }
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_1_2() {
        assert_eq!(resolve_plain("5432".into()), Value::Int(5432));
        assert_eq!(resolve_plain("true".into()), Value::Bool(true));
        assert_eq!(resolve_plain("~".into()), Value::Null);
        assert_eq!(resolve_plain("1.5".into()), Value::Float(1.5));
        assert!(matches!(
            resolve_plain("16-alpine".into()),
            Value::Str { .. }
        ));
    }

    /// Every descriptor of the fixtures (the broken corpus included), as
    /// it is and grown past a few batches, parses to the same tree and
    /// diagnostics whether its events come from this thread or a second.
    #[test]
    fn piped_parsing_is_the_same_as_parsing_in_place() {
        let mut texts: Vec<String> = super::super::fixture_files(|p| {
            p.extension().is_some_and(|e| e == "yml" || e == "yaml")
        })
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
        assert!(texts.len() > 100, "the fixtures hold the descriptors");
        // A large valid part first, so errors and anchors come batches in.
        let filler: String = (0..300)
            .map(|i| format!("k{i}: {{a: [1, 'x'], b: &n{i} v}}\n"))
            .collect();
        let grown: Vec<String> = texts
            .iter()
            .map(|t| {
                format!(
                    "filler:\n{}{t}",
                    filler
                        .lines()
                        .map(|l| format!("  {l}\n"))
                        .collect::<String>()
                )
            })
            .collect();
        texts.extend(grown);
        texts.push(format!("{filler}k5: duplicate\n"));
        texts.push(format!("{filler}bad: [unclosed\n"));
        texts.push(format!("{filler}---\nsecond: document\n"));
        texts.push(format!("{filler}alias: *n7\n"));
        for (i, text) in texts.iter().enumerate() {
            let inline = parse_with(3, text, false);
            let piped = parse_with(3, text, true);
            assert_eq!(
                inline,
                piped,
                "text {i}:\n{}",
                text.chars().take(300).collect::<String>()
            );
        }
    }
}
