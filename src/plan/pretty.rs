//! The plan JSON's layout: serde_json's pretty format (two spaces per
//! level), byte for byte, with each line break and its indentation written
//! at once. serde_json's `PrettyFormatter` writes the indentation one level
//! at a time, a write per level for each of the 830,000 keys of a
//! 10,000-change plan (docs/benchmarks.md).

use serde_json::ser::Formatter;
use std::io::{self, Write};

/// Deepest indentation written at once; deeper levels add two spaces a
/// write, as serde_json does.
const LEVELS: usize = 32;

/// A line break followed by [`LEVELS`] indentation levels.
const BREAK: [u8; 1 + 2 * LEVELS] = {
    let mut b = [b' '; 1 + 2 * LEVELS];
    b[0] = b'\n';
    b
};

/// serde_json's `PrettyFormatter::new()` (indent of two spaces).
#[derive(Debug, Default)]
pub(super) struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// The layout of a value written at `depth` levels of indentation, as
    /// an element of an array at that depth is.
    pub(super) fn at_depth(depth: usize) -> Pretty {
        Pretty {
            depth,
            has_value: false,
        }
    }

    /// A line break and the indentation of the current depth.
    fn line<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        let shallow = self.depth.min(LEVELS);
        w.write_all(&BREAK[..1 + 2 * shallow])?;
        for _ in shallow..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.line(w)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.line(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;

    #[test]
    fn writes_what_serde_jsons_pretty_printer_writes() {
        // Deeper than LEVELS too, and empty collections.
        let mut deep = json!({"leaf": [1, {}, [], "x\n\"y\""]});
        for i in 0..(LEVELS + 5) {
            deep = json!({ format!("k{i}"): deep, "a": [], "b": {}, "n": null });
        }
        for v in [
            json!(null),
            json!([]),
            json!({}),
            json!([1, [2, [3]]]),
            deep,
        ] {
            let mut ours = Vec::new();
            v.serialize(&mut serde_json::Serializer::with_formatter(
                &mut ours,
                Pretty::default(),
            ))
            .unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string_pretty(&v).unwrap()
            );
        }
    }
}
