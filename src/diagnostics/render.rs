//! Rendering diagnostics: annotated source text (codespan-reporting) for
//! people, JSON for machines. Nothing else prints a diagnostic.

use super::{Diagnostic, Severity, Sources};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::Buffer};
use serde_json::json;

/// Byte range of a 1-based line/column position and a length in characters.
fn byte_range(text: &str, line: u32, col: u32, len: u32) -> std::ops::Range<usize> {
    let mut start = 0usize;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let line_text = l.trim_end_matches(['\n', '\r']);
            let mut chars = line_text
                .char_indices()
                .skip(col.saturating_sub(1) as usize);
            let begin = chars.next().map(|(b, _)| b).unwrap_or(line_text.len());
            let rest = &line_text[begin..];
            let end = rest
                .char_indices()
                .nth(len.max(1) as usize)
                .map(|(b, _)| b)
                .unwrap_or(rest.len());
            return (start + begin)..(start + begin + end.max(if rest.is_empty() { 0 } else { 1 }));
        }
        start += l.len();
    }
    text.len()..text.len()
}

/// Every diagnostic as annotated source text, coloured when `color` is set.
pub fn render_text(sources: &Sources, diagnostics: &[Diagnostic], color: bool) -> String {
    let mut out = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    let mut files = SimpleFiles::new();
    let ids: Vec<usize> = sources
        .files()
        .iter()
        .map(|f| files.add(f.name.clone(), f.text.clone()))
        .collect();
    let config = term::Config::default();
    for d in diagnostics {
        let mut cs = match d.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
        }
        .with_code(d.code)
        .with_message(&d.message);
        if let Some(loc) = d.loc {
            let text = &sources.get(loc.file).text;
            let range = byte_range(text, loc.line, loc.col, loc.len);
            let label = match (d.path.is_empty(), d.code) {
                (false, _) => format!("at {}", d.path),
                // Problems with the file itself have no YAML path.
                (true, "not-utf8" | "nul-byte" | "multiple-documents") => String::new(),
                (true, _) => "at the top level".to_string(),
            };
            cs = cs.with_labels(vec![
                Label::primary(ids[loc.file], range).with_message(label)
            ]);
        } else if !d.path.is_empty() {
            cs = cs.with_notes(vec![format!("at {}", d.path)]);
        }
        if let Some(help) = &d.help {
            let mut notes = cs.notes.clone();
            notes.push(format!("help: {help}"));
            cs = cs.with_notes(notes);
        }
        // Writing into a memory buffer with files we just added cannot fail.
        let _ = term::emit_to_write_style(&mut out, &config, &files, &cs);
    }
    String::from_utf8_lossy(out.as_slice()).into_owned()
}

/// The JSON form: a list of objects with file, line, column, path, message, help.
pub fn render_json(sources: &Sources, diagnostics: &[Diagnostic]) -> serde_json::Value {
    let items: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            let (file, line, column, source_line) = match d.loc {
                Some(l) => {
                    let f = sources.get(l.file);
                    let src = f
                        .text
                        .lines()
                        .nth(l.line as usize - 1)
                        .unwrap_or("")
                        .to_string();
                    (Some(f.name.clone()), Some(l.line), Some(l.col), Some(src))
                }
                None => (None, None, None, None),
            };
            json!({
                "severity": d.severity,
                "code": d.code,
                "file": file,
                "line": line,
                "column": column,
                "path": d.path,
                "message": d.message,
                "help": d.help,
                "source_line": source_line,
            })
        })
        .collect();
    json!({
        "valid": !diagnostics.iter().any(|d| d.severity == Severity::Error),
        "errors": diagnostics.iter().filter(|d| d.severity == Severity::Error).count(),
        "warnings": diagnostics.iter().filter(|d| d.severity == Severity::Warning).count(),
        "diagnostics": items,
    })
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_range_finds_line_and_column() {
        let text = "a: 1\nbb: héllo\n";
        assert_eq!(&text[byte_range(text, 2, 5, 5)], "héllo");
        assert_eq!(&text[byte_range(text, 1, 1, 1)], "a");
    }
}
