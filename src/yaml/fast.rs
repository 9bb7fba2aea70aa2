//! A quick reader for the YAML that descriptors are written in: block
//! mappings and sequences whose values are single-line scalars or
//! single-line flow collections. It hands the tree builder the events
//! yaml-rust2's parser would, at the same positions, without yaml-rust2's
//! character-by-character scanner (docs/benchmarks.md: most of the time
//! of loading a large project).
//!
//! It gives up on anything else — anchors, aliases, tags, block and
//! multi-line scalars, `?` keys, document markers and directives, tabs,
//! carriage returns, control characters, escapes beyond the common ones,
//! and every syntax error — and the text is then parsed by yaml-rust2
//! (`parser`), so rare forms and errors read exactly as before. The unit
//! tests compare both readers on every fixture and on generated texts.

use super::parser::{Builder, Mark};
use super::{Node, Value};
use crate::diagnostics::Diagnostic;
use yaml_rust2::parser::Event;
use yaml_rust2::scanner::TScalarStyle;

/// The quick reader gave up: the text needs yaml-rust2.
struct Bail;

type Step<T = ()> = Result<T, Bail>;

/// The tree and diagnostics of `text`, as `parser::parse_with` would give
/// them, or `None` when the text is not in the form this reader knows.
pub(super) fn parse(file: usize, text: &str) -> Option<(Option<Node>, Vec<Diagnostic>)> {
    let ascii = text.is_ascii();
    if !plain_characters(text, ascii) {
        return None;
    }
    if text.len() >= SPLIT_BYTES {
        if let Some(parsed) = cut(text).and_then(|at| parse_split(file, text, ascii, at)) {
            return Some(parsed);
        }
    }
    read(file, text, ascii, 0..text.len(), 1, None)
}

/// From this size on, a text whose second half lies in its last top-level
/// entry (the `instances` of a large project) is read in two parts at
/// once, the first on a second thread (docs/benchmarks.md).
const SPLIT_BYTES: usize = 64 * 1024;

/// Where a text is cut in two: the byte and line where a line starts,
/// and the column of that line's key.
#[derive(Clone, Copy, Debug)]
struct Cut {
    at: usize,
    line: usize,
    col: usize,
}

/// The tree of `range` of `text` (whose first line is `line`; `ascii`:
/// whether the text is), or `None`
/// when this reader leaves it to yaml-rust2. What the reader finds at the
/// end of the range is marked at `end` (the whole text's end by default).
fn read(
    file: usize,
    text: &str,
    ascii: bool,
    range: std::ops::Range<usize>,
    line: usize,
    end: Option<Mark>,
) -> Option<(Option<Node>, Vec<Diagnostic>)> {
    let builder = Builder::new(file, text);
    let eof = end.unwrap_or(Mark {
        line: builder.line_count() + 1,
        col: 0,
    });
    let mut reader = Reader {
        builder,
        text,
        next: range.start,
        end: range.end,
        next_no: line,
        current: None,
        ascii,
        eof,
    };
    reader.document().ok()?;
    Some(reader.builder.into_result())
}

/// Where to cut `text`: the first line past its middle that is a key of
/// the mapping that is the value of the last top-level entry, when that
/// entry holds the whole second half.
fn cut(text: &str) -> Option<Cut> {
    let bytes = text.as_bytes();
    let top = |i: usize| !matches!(bytes.get(i), Some(b' ' | b'\n' | b'#') | None);
    let middle = bytes.len() / 2;
    // No top-level line after the middle.
    if newlines(&bytes[middle..]).any(|i| top(middle + i + 1)) {
        return None;
    }
    // The last top-level line before it, and the column of its entries:
    // the indentation of the next line with content.
    let last = newlines(&bytes[..middle])
        .rev()
        .map(|i| i + 1)
        .find(|&i| top(i))
        .or(top(0).then_some(0))?;
    let after = last + text[last..].find('\n')? + 1;
    let next = text[after..]
        .split('\n')
        .map(|l| l.trim_start_matches(' '))
        .zip(text[after..].split('\n'))
        .find(|(content, _)| !content.is_empty() && !content.starts_with('#'))?;
    let col = next.1.len() - next.0.len();
    if col == 0 || next.0.starts_with('-') {
        return None;
    }
    // The first line past the middle with a key at that column.
    let key_at = |i: usize| {
        bytes[i..].len() > col
            && bytes[i..i + col].iter().all(|&b| b == b' ')
            && !matches!(bytes[i + col], b' ' | b'-' | b'#' | b'\n')
    };
    let at = newlines(&bytes[middle..])
        .map(|i| middle + i + 1)
        .find(|&i| key_at(i))?;
    let line = 1 + newlines(&bytes[..at]).count();
    Some(Cut { at, line, col })
}

/// Where the line feeds of `bytes` are.
fn newlines(bytes: &[u8]) -> impl DoubleEndedIterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i)
}

/// `text` read in two parts at `cut`, the first on a second thread, and
/// joined: the second part's entries continue the mapping the first part
/// ends in. `None` when either part is not read, when either reports
/// anything, or when the second repeats a key of the first (then the whole
/// text is read again, so diagnostics come as they would).
fn parse_split(
    file: usize,
    text: &str,
    ascii: bool,
    cut: Cut,
) -> Option<(Option<Node>, Vec<Diagnostic>)> {
    let end = Mark {
        line: cut.line,
        col: cut.col,
    };
    let (first, second) = crate::support::parallel::join(
        || read(file, text, ascii, 0..cut.at, 1, Some(end)),
        || read(file, text, ascii, cut.at..text.len(), cut.line, None),
    );
    // A diagnostic in either part (a duplicate key, say: the last entry
    // may be one, dropped, and its mapping not the one the second part
    // continues) reads the whole text.
    let ((Some(mut root), diagnostics), (Some(rest), rest_diagnostics)) = (first?, second?) else {
        return None;
    };
    if !diagnostics.is_empty() || !rest_diagnostics.is_empty() {
        return None;
    }
    let (Value::Map(top), Value::Map(more)) = (&mut root.value, rest.value) else {
        return None;
    };
    let Value::Map(entries) = &mut top.last_mut()?.1.value else {
        return None;
    };
    let column = |e: &[(Node, Node)]| e.first().map(|(k, _)| k.loc.col as usize);
    if column(entries) != Some(cut.col + 1) || column(&more) != Some(cut.col + 1) {
        return None;
    }
    let names: rustc_hash::FxHashSet<String> = entries
        .iter()
        .filter_map(|(k, _)| k.scalar_text())
        .collect();
    if more
        .iter()
        .any(|(k, _)| k.scalar_text().is_none_or(|t| names.contains(&t)))
    {
        return None;
    }
    entries.extend(more);
    Some((Some(root), Vec::new()))
}

/// Whether `text` holds none of the characters this reader leaves to
/// yaml-rust2: control characters but the line feed (tabs and carriage
/// returns among them), DEL, a byte-order mark, and Unicode's line breaks.
fn plain_characters(text: &str, ascii: bool) -> bool {
    let bytes_ok = text.bytes().all(|b| (b >= 0x20 && b != 0x7f) || b == b'\n');
    bytes_ok
        && (ascii
            || !text
                .chars()
                .any(|c| matches!(c, '\u{85}' | '\u{feff}' | '\u{2028}' | '\u{2029}')))
}

/// A line with content, or what remains of one after a `- `.
#[derive(Clone, Copy)]
struct Line<'a> {
    /// Its number, from 1.
    no: usize,
    /// The column (in characters, from 0) where `content` starts.
    col: usize,
    /// The rest of the line, without its line feed.
    content: &'a str,
}

/// What follows a mapping key.
struct Key {
    text: String,
    style: TScalarStyle,
    /// Where its `:` is, and where the value after it may start.
    colon: usize,
}

struct Reader<'a> {
    builder: Builder<'a>,
    text: &'a str,
    /// Where the next unread line starts, and its number; where the
    /// range read ends.
    next: usize,
    next_no: usize,
    end: usize,
    /// The line being read (peeked, or the rest of one after a `- `).
    current: Option<Line<'a>>,
    /// Whether the text is ASCII: byte offsets are then columns.
    ascii: bool,
    /// Where yaml-rust2 places what it finds at the end of the text.
    eof: Mark,
}

impl<'a> Reader<'a> {
    fn document(&mut self) -> Step {
        // An empty document (or only comments) is left to yaml-rust2.
        let first = self.peek()?.ok_or(Bail)?;
        self.collection(first)?;
        match self.peek()? {
            Some(_) => Err(Bail),
            None => Ok(()),
        }
    }

    /// The next line with content (not blank, not only a comment), kept
    /// until `advance`.
    fn peek(&mut self) -> Step<Option<Line<'a>>> {
        if let Some(line) = self.current {
            return Ok(Some(line));
        }
        while self.next < self.end {
            let rest = &self.text[self.next..self.end];
            let end = rest.find('\n').unwrap_or(rest.len());
            let raw = &rest[..end];
            let no = self.next_no;
            self.next += end + 1;
            self.next_no += 1;
            if raw.starts_with("---") || raw.starts_with("...") || raw.starts_with('%') {
                return Err(Bail);
            }
            let content = raw.trim_start_matches(' ');
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let line = Line {
                no,
                col: raw.len() - content.len(),
                content,
            };
            self.current = Some(line);
            return Ok(Some(line));
        }
        Ok(None)
    }

    /// Done with the current line.
    fn advance(&mut self) {
        self.current = None;
    }

    /// Where byte `offset` of `line`'s content is.
    fn mark(&self, line: &Line, offset: usize) -> Mark {
        let col = if self.ascii {
            line.col + offset
        } else {
            line.col + line.content[..offset].chars().count()
        };
        Mark { line: line.no, col }
    }

    fn emit(&mut self, event: Event, mark: Mark) -> Step {
        // A limit the builder reports (nesting) is left to yaml-rust2's
        // reading, which reports it the same way.
        self.builder.event(event, mark).map_err(|_| Bail)
    }

    fn scalar(&mut self, text: String, style: TScalarStyle, mark: Mark) -> Step {
        self.emit(Event::Scalar(text, style, 0, None), mark)
    }

    /// A block collection starting at `line`.
    fn collection(&mut self, line: Line<'a>) -> Step {
        if is_item(line.content) {
            self.sequence(line, false)
        } else {
            self.mapping(line)
        }
    }

    /// The value of a key (`in_mapping`) or item with nothing after it on
    /// its line: a collection indented further (or, for a key, a sequence
    /// at its column), else an empty value where yaml-rust2 places it.
    fn block_value(&mut self, parent: usize, in_mapping: bool) -> Step {
        let mark = match self.peek()? {
            None => self.eof,
            Some(line) if line.col > parent => return self.collection(line),
            Some(line) if line.col == parent && is_item(line.content) => {
                if in_mapping {
                    return self.sequence(line, true);
                }
                self.entry_mark(&line)
            }
            // A key or the end of a collection: where its line starts.
            Some(line) => Mark {
                line: line.no,
                col: line.col,
            },
        };
        self.scalar(String::new(), TScalarStyle::Plain, mark)
    }

    /// Where yaml-rust2 marks the item on `line`: past its `-`, the
    /// spaces and any comment after it.
    fn entry_mark(&self, line: &Line) -> Mark {
        let rest = line.content[1..].trim_start_matches(' ');
        let at = if rest.starts_with('#') {
            line.content.len()
        } else {
            line.content.len() - rest.len()
        };
        self.mark(line, at)
    }

    /// After a value written on its line: the next line may not be
    /// indented past `col` (that would continue the value).
    fn after_value(&mut self, col: usize) -> Step {
        self.advance();
        match self.peek()? {
            Some(line) if line.col > col => Err(Bail),
            _ => Ok(()),
        }
    }

    /// A block sequence; `indentless` when it is a mapping's value at the
    /// mapping's column (yaml-rust2 then marks it at its first item).
    fn sequence(&mut self, first: Line<'a>, indentless: bool) -> Step {
        let col = first.col;
        let mark = if indentless {
            self.entry_mark(&first)
        } else {
            self.mark(&first, 0)
        };
        self.emit(Event::SequenceStart(0, None), mark)?;
        while let Some(line) = self.peek()? {
            if line.col < col || (line.col == col && !is_item(line.content)) {
                break;
            }
            if line.col > col {
                return Err(Bail);
            }
            let after = &line.content[1..];
            let rest = after.trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                self.advance();
                self.block_value(col, false)?;
                continue;
            }
            if is_item(rest) {
                return Err(Bail);
            }
            let inner = Line {
                no: line.no,
                col: col + 1 + (after.len() - rest.len()),
                content: rest,
            };
            self.current = Some(inner);
            if key(rest)?.is_some() {
                self.mapping(inner)?;
            } else {
                self.inline(&inner, 0)?;
                self.after_value(col)?;
            }
        }
        self.emit(Event::SequenceEnd, self.eof)
    }

    fn mapping(&mut self, first: Line<'a>) -> Step {
        let col = first.col;
        let mut started = false;
        while let Some(line) = self.peek()? {
            if line.col < col || (started && line.col == col && is_item(line.content)) {
                break;
            }
            if line.col > col {
                return Err(Bail);
            }
            let key = key(line.content)?.ok_or(Bail)?;
            if !started {
                self.emit(Event::MappingStart(0, None), self.mark(&line, key.colon))?;
                started = true;
            }
            self.scalar(key.text, key.style, self.mark(&line, 0))?;
            let after = &line.content[key.colon + 1..];
            let value = after.trim_start_matches(' ');
            if value.is_empty() || value.starts_with('#') {
                self.advance();
                self.block_value(col, true)?;
            } else {
                self.inline(&line, line.content.len() - value.len())?;
                self.after_value(col)?;
            }
        }
        self.emit(Event::MappingEnd, self.eof)
    }

    /// A value written on its line from byte `at`: a scalar or a flow
    /// collection, then nothing but a comment.
    fn inline(&mut self, line: &Line, at: usize) -> Step {
        let content = line.content;
        let end = match content.as_bytes()[at] {
            b'[' | b'{' => self.flow(line, at)?,
            b'\'' | b'"' => {
                let (text, style, len) = quoted(&content[at..])?;
                self.scalar(text, style, self.mark(line, at))?;
                at + len
            }
            _ => {
                let len = plain_block(&content[at..])?;
                let text = content[at..at + len].to_string();
                self.scalar(text, TScalarStyle::Plain, self.mark(line, at))?;
                at + len
            }
        };
        let rest = &content[end..];
        let trimmed = rest.trim_start_matches(' ');
        if trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len()) {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// A flow node at byte `at` of `line`; where it ends.
    fn flow(&mut self, line: &Line, at: usize) -> Step<usize> {
        let bytes = line.content.as_bytes();
        match bytes.get(at) {
            Some(b'[') => self.flow_sequence(line, at),
            Some(b'{') => self.flow_mapping(line, at),
            Some(_) => self.flow_scalar(line, at, false),
            None => Err(Bail),
        }
    }

    /// A quoted or plain scalar inside a flow collection at byte `at` of
    /// `line` (a mapping's key when `as_key`: it ends at `: `); where it
    /// ends.
    fn flow_scalar(&mut self, line: &Line, at: usize, as_key: bool) -> Step<usize> {
        let (text, style, len) = match line.content.as_bytes().get(at) {
            Some(b'\'' | b'"') => quoted(&line.content[at..])?,
            // An empty one (the end of the line) is refused there.
            _ => {
                let len = plain_flow(&line.content[at..], as_key)?;
                let text = line.content[at..at + len].to_string();
                (text, TScalarStyle::Plain, len)
            }
        };
        self.scalar(text, style, self.mark(line, at))?;
        Ok(at + len)
    }

    fn flow_sequence(&mut self, line: &Line, at: usize) -> Step<usize> {
        let bytes = line.content.as_bytes();
        self.emit(Event::SequenceStart(0, None), self.mark(line, at))?;
        let mut i = spaces(bytes, at + 1);
        if bytes.get(i) == Some(&b']') {
            self.emit(Event::SequenceEnd, self.eof)?;
            return Ok(i + 1);
        }
        loop {
            i = spaces(bytes, self.flow(line, i)?);
            match self.next_entry(bytes, i, b']', Event::SequenceEnd)? {
                (end, true) => return Ok(end),
                (next, false) => i = next,
            }
        }
    }

    /// What follows an entry of a flow collection closed by `close`: `,`
    /// and the next entry (its start, `false`), or the end (past it,
    /// `true`, after `end` is emitted).
    fn next_entry(&mut self, bytes: &[u8], i: usize, close: u8, end: Event) -> Step<(usize, bool)> {
        match bytes.get(i) {
            Some(b',') => {
                let next = spaces(bytes, i + 1);
                match bytes.get(next) {
                    Some(&b) if b != close && b != b',' => Ok((next, false)),
                    _ => Err(Bail),
                }
            }
            Some(&b) if b == close => {
                self.emit(end, self.eof)?;
                Ok((i + 1, true))
            }
            _ => Err(Bail),
        }
    }

    fn flow_mapping(&mut self, line: &Line, at: usize) -> Step<usize> {
        let bytes = line.content.as_bytes();
        self.emit(Event::MappingStart(0, None), self.mark(line, at))?;
        let mut i = spaces(bytes, at + 1);
        if bytes.get(i) == Some(&b'}') {
            self.emit(Event::MappingEnd, self.eof)?;
            return Ok(i + 1);
        }
        loop {
            // The key: a scalar followed by `: `.
            i = spaces(bytes, self.flow_scalar(line, i, true)?);
            if bytes.get(i) != Some(&b':') || bytes.get(i + 1) != Some(&b' ') {
                return Err(Bail);
            }
            i = spaces(bytes, i + 1);
            if matches!(bytes.get(i), Some(b',' | b'}') | None) {
                return Err(Bail);
            }
            i = spaces(bytes, self.flow(line, i)?);
            match self.next_entry(bytes, i, b'}', Event::MappingEnd)? {
                (end, true) => return Ok(end),
                (next, false) => i = next,
            }
        }
    }
}

/// Whether a line's content is a sequence item (`-` alone or `- ...`).
fn is_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// Past the spaces from byte `i`.
fn spaces(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// Whether a plain scalar may not start with `bytes`: an indicator, or
/// one this reader leaves to yaml-rust2 (`-` but before a letter, digit
/// or dot, as in `-1`; `?` and `:`).
fn bad_plain_start(bytes: &[u8]) -> bool {
    match bytes.first() {
        None => true,
        Some(b'-') => !bytes
            .get(1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.'),
        Some(b) => b"?:,[]{}#&*!|>'\"%@`".contains(b),
    }
}

/// The mapping key that `content` starts with, if it is `key: ...`
/// (or `key:` at the end of the line).
fn key(content: &str) -> Step<Option<Key>> {
    let bytes = content.as_bytes();
    let (text, style, end) = match bytes.first() {
        Some(b'\'' | b'"') => quoted(content)?,
        Some(b'[' | b'{') => return Ok(None),
        _ => {
            if bad_plain_start(bytes) {
                return Err(Bail);
            }
            let Some(colon) = plain_key_end(bytes) else {
                return Ok(None);
            };
            let text = content[..colon].trim_end_matches(' ');
            (text.to_string(), TScalarStyle::Plain, text.len())
        }
    };
    let colon = spaces(bytes, end);
    let is_colon =
        bytes.get(colon) == Some(&b':') && matches!(bytes.get(colon + 1), None | Some(b' '));
    if !is_colon {
        return Ok(None);
    }
    // yaml-rust2 refuses simple keys over 1,024 characters.
    if colon > 1000 {
        return Err(Bail);
    }
    Ok(Some(Key { text, style, colon }))
}

/// Where the `:` ending a plain key is (`: ` or `:` at the end), if
/// before any comment.
fn plain_key_end(bytes: &[u8]) -> Option<usize> {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if matches!(bytes.get(i + 1), None | Some(b' ')) => return Some(i),
            b'#' if i > 0 && bytes[i - 1] == b' ' => return None,
            _ => {}
        }
    }
    None
}

/// The length of a plain scalar in block context (trailing spaces and a
/// comment excluded). A `: ` inside it is an error, left to yaml-rust2.
fn plain_block(s: &str) -> Step<usize> {
    let bytes = s.as_bytes();
    if bad_plain_start(bytes) {
        return Err(Bail);
    }
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if matches!(bytes.get(i + 1), None | Some(b' ')) => return Err(Bail),
            b'#' if bytes[i - 1] == b' ' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    Ok(s[..end].trim_end_matches(' ').len())
}

/// The length of a plain scalar inside a flow collection on one line; a
/// key (`as_key`) ends at `: `. Spaces, flow indicators, colons and
/// comments inside are left to yaml-rust2.
fn plain_flow(s: &str, as_key: bool) -> Step<usize> {
    let bytes = s.as_bytes();
    if bad_plain_start(bytes) {
        return Err(Bail);
    }
    for (i, &b) in bytes.iter().enumerate() {
        let end = match b {
            b',' | b']' | b'}' => i,
            b':' if as_key && bytes.get(i + 1) == Some(&b' ') => i,
            b':' | b'[' | b'{' | b'#' => return Err(Bail),
            _ => continue,
        };
        // Spaces inside (`a b`, `a -]`) are left to yaml-rust2.
        let text = s[..end].trim_end_matches(' ');
        return match text.contains(' ') {
            true => Err(Bail),
            false => Ok(text.len()),
        };
    }
    // The collection does not close on this line.
    Err(Bail)
}

/// A quoted scalar at the start of `s`, closed on the same line: its
/// text, style and length as written (quotes included).
fn quoted(s: &str) -> Step<(String, TScalarStyle, usize)> {
    let bytes = s.as_bytes();
    let quote = bytes[0];
    let mut text = String::new();
    let mut run = 1;
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        if b == quote {
            if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                text.push_str(&s[run..=i]);
                i += 2;
                run = i;
                continue;
            }
            text.push_str(&s[run..i]);
            let style = if quote == b'\'' {
                TScalarStyle::SingleQuoted
            } else {
                TScalarStyle::DoubleQuoted
            };
            return Ok((text, style, i + 1));
        }
        if b == b'\\' && quote == b'"' {
            text.push_str(&s[run..i]);
            let unescaped = match bytes.get(i + 1) {
                Some(b'\\') => '\\',
                Some(b'"') => '"',
                Some(b'/') => '/',
                Some(b'n') => '\n',
                Some(b't') => '\t',
                Some(b'r') => '\r',
                Some(b'0') => '\0',
                _ => return Err(Bail),
            };
            text.push(unescaped);
            i += 2;
            run = i;
            continue;
        }
        i += 1;
    }
    // Not closed on this line: a multi-line scalar or an error.
    Err(Bail)
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse_with;
    use super::*;

    /// A small deterministic generator (xorshift), so a failure repeats.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
            &items[self.below(items.len())]
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    /// Scalars as written, ordinary and awkward: quoted ones with escapes,
    /// indicators, colons, comments, numbers, non-ASCII, the forms this
    /// reader leaves to yaml-rust2.
    const SCALARS: &[&str] = &[
        "a",
        "b c",
        "name",
        "x:y",
        "http://h:80/p?q=1&r",
        "-1",
        "1.5",
        "0x1F",
        "1e3",
        "true",
        "False",
        "~",
        "null",
        "é",
        "日本 語",
        "a,b",
        "a[0]",
        "{y",
        "x]",
        "a#b",
        "a #b",
        "a: b",
        "a:",
        "'q'",
        "'it''s'",
        "'open",
        "\"d\"",
        "\"t\\tn\\n\"",
        "\"\\x41\"",
        "\"\\u00e9\"",
        "\"q\\\"\"",
        "\"back\\\\\"",
        "-",
        "- x",
        "-x",
        "?x",
        "? x",
        ":x",
        "%x",
        "@x",
        "`x",
        "&a x",
        "*a",
        "!t x",
        "|",
        ">",
        "---",
        "...",
        "a  b",
        "x ",
        "#",
        "[a, b]",
        "[]",
        "{}",
        "{a: 1, b: [x, 'y']}",
        "[a, [b, c], {d: e}]",
        "{a: }",
        "[a,]",
        "{a:1}",
        "['x',\"y\"]",
        "[a b, c]",
        "{ k : v }",
        "[x] y",
        "\u{a0}nb",
        "k\u{e9}y",
    ];

    fn indent(n: usize) -> String {
        " ".repeat(n)
    }

    /// A random block collection at `col`, as lines.
    fn block(rng: &mut Rng, col: usize, depth: usize, out: &mut String) {
        let entries = 1 + rng.below(4);
        let seq = rng.chance(35);
        for _ in 0..entries {
            if rng.chance(10) {
                out.push_str(&format!("{}# note\n", indent(rng.below(col + 3))));
            }
            if rng.chance(8) {
                out.push('\n');
            }
            let head = if seq {
                format!("{}-{}", indent(col), indent(1 + rng.below(2)))
            } else {
                let key = if rng.chance(80) {
                    format!("k{}", rng.below(6))
                } else {
                    rng.pick(SCALARS).to_string()
                };
                let space = if rng.chance(5) { " " } else { "" };
                format!("{}{key}{space}: ", indent(col))
            };
            value(rng, col, depth, seq, &head, out);
        }
    }

    /// The value after `head` (a key or a `- `).
    fn value(rng: &mut Rng, col: usize, depth: usize, seq: bool, head: &str, out: &mut String) {
        let comment = if rng.chance(10) { " # c" } else { "" };
        let trailing = if rng.chance(5) { "  " } else { "" };
        match rng.below(10) {
            0..=4 => {
                let v = rng.pick(SCALARS);
                out.push_str(&format!("{head}{v}{trailing}{comment}\n"));
            }
            5 if depth < 4 && seq => {
                // A mapping on the item's line.
                let inner = head.len();
                let mut nested = String::new();
                block(rng, inner, depth + 1, &mut nested);
                out.push_str(head);
                out.push_str(nested.get(inner..).unwrap_or(""));
            }
            6..=8 if depth < 4 => {
                out.push_str(&format!("{}{comment}\n", head.trim_end()));
                let step = if !seq && rng.chance(20) {
                    0
                } else {
                    1 + rng.below(3)
                };
                block(rng, col + step, depth + 1, out);
            }
            _ => out.push_str(&format!("{}{comment}\n", head.trim_end())),
        }
    }

    /// Small edits that break or bend a text.
    fn mutate(rng: &mut Rng, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..1 + rng.below(3) {
            if chars.is_empty() {
                break;
            }
            let at = rng.below(chars.len());
            match rng.below(3) {
                0 => {
                    chars.remove(at);
                }
                1 => chars.insert(
                    at,
                    *rng.pick(&[
                        ' ', '-', ':', '#', '\'', '"', '[', ']', '{', '}', ',', '\n', '\t', '&',
                        '*', '!', '|', '?', '\r',
                    ]),
                ),
                _ => chars.insert(at, ' '),
            }
        }
        chars.into_iter().collect()
    }

    /// Compares the quick reader with yaml-rust2 on `text`; whether the
    /// quick one read it.
    fn same_as_yaml_rust2(text: &str) -> bool {
        let Some(quick) = parse(7, text) else {
            return false;
        };
        assert_same(&quick, &parse_with(7, text, false), text);
        true
    }

    /// Fails with the first node or diagnostic that differs.
    fn assert_same(
        quick: &(Option<Node>, Vec<Diagnostic>),
        full: &(Option<Node>, Vec<Diagnostic>),
        text: &str,
    ) {
        if quick != full {
            let (q, f) = (flatten(quick), flatten(full));
            let at = q
                .iter()
                .zip(&f)
                .position(|(a, b)| a != b)
                .unwrap_or(q.len().min(f.len()));
            panic!(
                "the readers differ on\n{text}\n--- quick: {:?}\n--- yaml-rust2: {:?}",
                q.get(at),
                f.get(at)
            );
        }
    }

    /// Every node and diagnostic as a line, for a readable difference.
    fn flatten((root, diagnostics): &(Option<Node>, Vec<Diagnostic>)) -> Vec<String> {
        fn walk(node: &Node, out: &mut Vec<String>) {
            let l = node.loc;
            let what = match &node.value {
                super::super::Value::Seq(_) => "seq".to_string(),
                super::super::Value::Map(_) => "map".to_string(),
                other => format!("{other:?}"),
            };
            out.push(format!("{what} at {}:{}+{}", l.line, l.col, l.len));
            match &node.value {
                super::super::Value::Seq(items) => items.iter().for_each(|n| walk(n, out)),
                super::super::Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                    walk(k, out);
                    walk(v, out);
                }),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if let Some(root) = root {
            walk(root, &mut out);
        }
        out.extend(diagnostics.iter().map(|d| format!("{d:?}")));
        out
    }

    #[test]
    fn generated_and_mangled_texts_read_as_yaml_rust2_reads_them() {
        // More cases and other seeds were run by hand (docs/benchmarks.md).
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut read, mut mangled_read, cases) = (0, 0, 20_000);
        for _ in 0..cases {
            let mut text = String::new();
            let col = rng.below(2);
            block(&mut rng, col, 0, &mut text);
            read += usize::from(same_as_yaml_rust2(&text));
            let mangled = mutate(&mut rng, &text);
            mangled_read += usize::from(same_as_yaml_rust2(&mangled));
        }
        // The comparison means something only if the quick reader takes
        // a good share of both.
        assert!(read > cases / 5, "read {read} of {cases}");
        assert!(
            mangled_read > cases / 10,
            "read {mangled_read} of {cases} mangled"
        );
    }

    /// Every descriptor of the fixtures, the broken corpus included.
    #[test]
    fn fixture_descriptors_read_as_yaml_rust2_reads_them() {
        let files = super::super::fixture_files(|p| {
            p.extension().is_some_and(|e| e == "yml" || e == "yaml")
        });
        let mut read = 0;
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            read += usize::from(same_as_yaml_rust2(&text));
        }
        // 158 of 170 when this was written: the rest have anchors, block
        // scalars, tabs or errors.
        assert!(
            read * 10 > files.len() * 8,
            "read {read} of {}",
            files.len()
        );
    }

    #[test]
    fn other_forms_are_left_to_yaml_rust2() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !tag 1\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "%YAML 1.2\n---\na: 1\n",
            "a:\tb\n",
            "a: b\r\n",
            "? a\n: b\n",
            "a: plain\n  continued\n",
            "a: 'quoted\n  continued'\n",
            "a: [1,\n  2]\n",
            "a: {\n",
            "a: {k: v,\n",
            "a: \"\\x41\"\n",
            "",
            "# only a comment\n",
            "just a scalar\n",
            "a: b: c\n",
            "a: 1\n b: 2\n",
        ] {
            assert!(parse(0, text).is_none(), "{text:?}");
            // And the whole parse still reads it.
            let _ = super::super::parse(0, text);
        }
    }

    /// A project-like text whose last top-level entry holds `n` entries
    /// at column `col`, each written in one of several forms; `extra`
    /// goes after entry `at`.
    fn large(n: usize, col: usize, at: usize, extra: &str) -> String {
        let pad = " ".repeat(col);
        let mut text = String::from("name: x\nservices:\n  a: {path: p}\ninstances:\n");
        for i in 0..n {
            let entry = match i % 5 {
                0 => format!("{pad}e{i}:\n{pad}  type: t\n{pad}  values: {{v: {i}}}\n"),
                1 => format!("{pad}e{i}:\n{pad}- a\n{pad}-\n"),
                2 => format!("{pad}e{i}:\n# note\n\n"),
                3 => format!("{pad}'e{i}': [x, 'y']  # c\n"),
                _ => format!("{pad}e{i}:\n{pad}  k:\n{pad}  - {{a: 1}}\n"),
            };
            text.push_str(&entry);
            if i == at {
                text.push_str(&extra.replace("PAD", &pad));
            }
        }
        text
    }

    /// Every cut of several texts reads as yaml-rust2 reads the whole, or
    /// is refused.
    #[test]
    fn texts_read_in_two_parts_read_as_yaml_rust2_reads_them() {
        let extras = [
            "",
            "PADe3: duplicate across the cut\n",
            "PADe40: twice\nPADe40: in the second part\n",
            "PADbad: [unclosed\n",
            "PADx: &a anchored\n",
            "top: level after\n",
        ];
        let mut split = 0;
        for (i, extra) in extras.iter().enumerate() {
            for (col, twice) in [(2, false), (4, false), (2, true)] {
                let mut text = large(60, col, 30 + i, extra);
                if twice {
                    // The last entry's key repeats an earlier one: the
                    // whole text drops it, and the cut's part with it.
                    text = text.replacen("services:", "instances:\n  z: 1\nservices:", 1);
                }
                let whole = parse_with(7, &text, false);
                let mut line = 1;
                for (at, _) in text.match_indices('\n') {
                    line += 1;
                    // A key at the column, as `cut` chooses.
                    let rest = &text[at + 1..];
                    let key = rest.len() > col
                        && rest[..col].bytes().all(|b| b == b' ')
                        && !matches!(rest.as_bytes()[col], b' ' | b'-' | b'#' | b'\n');
                    if !key {
                        continue;
                    }
                    let cut = Cut {
                        at: at + 1,
                        line,
                        col,
                    };
                    if let Some(parsed) = parse_split(7, &text, text.is_ascii(), cut) {
                        assert_same(&parsed, &whole, &format!("cut at line {line}:\n{text}"));
                        split += 1;
                    }
                }
                // The whole way in.
                if let Some(parsed) = parse(7, &text) {
                    assert_same(&parsed, &whole, &text);
                }
            }
        }
        assert!(split > 100, "{split} cuts read");
    }

    #[test]
    fn a_large_text_is_cut_past_its_middle_in_its_last_entry() {
        let text = large(4000, 2, 0, "");
        assert!(text.len() > SPLIT_BYTES);
        let cut = cut(&text).expect("a cut");
        assert!(
            cut.at > text.len() / 2 && text[cut.at..].starts_with("  e"),
            "{cut:?}"
        );
        assert_eq!(cut.line, 1 + text[..cut.at].matches('\n').count());
        assert!(parse_split(7, &text, text.is_ascii(), cut).is_some());
        assert_same(
            &parse(7, &text).expect("read"),
            &parse_with(7, &text, false),
            &text,
        );
        // A top-level entry after the middle: no cut.
        assert!(super::cut(&format!("{text}last: entry\n")).is_none());
    }

    #[test]
    fn the_benchmark_form_is_read_quickly() {
        let text = "name: bench\nservices:\n  svc0:\n    path: services/svc0\n    connections:\n      res0:\n        env:\n          URL: url\nresources:\n  res0:\n    image: compartment-test/busybox:1\n    ports: [6379]\n    readiness: {type: tcp, port: 6379, timeoutMs: 5000}\n    outputs:\n      url:\n        sensitive: false\n        value: tcp://${resource.host}:6379\ninstances:\n  link1:\n    type: owner/link\n    values:\n      name: Link 1\n      prev: link0\n";
        assert!(same_as_yaml_rust2(text));
    }
}
