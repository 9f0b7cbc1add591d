use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

use super::error::{DecodeError, Limit};
use super::limits::Limits;
use crate::model::Report;

pub fn decode(plain: &[u8], limits: &Limits) -> Result<Report, DecodeError> {
    check_depth(plain, limits.max_depth)?;
    serde_json::from_slice(plain).map_err(DecodeError::Json)
}

/// Refuses nesting deeper than `max` before parsing, so that the parser's recursion (and its
/// fixed limit of 128) is never what stops a hostile body.
fn check_depth(plain: &[u8], max: usize) -> Result<(), DecodeError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in plain {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Err(DecodeError::limit(Limit::NestingDepth, max));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

pub fn encode(report: &Report) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    report
        .serialize(&mut ser)
        .expect("a report always serialises to JSON");
    out
}

/// Escapes as Go's `encoding/json` does on top of the JSON rules: `<`, `>`, `&`, U+2028 and
/// U+2029, so our output is byte-compatible with what Scope's own encoder writes.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        let body = br#"{"a":"[[[[[[[[[[\"{{{{{{{{"}"#;
        assert!(check_depth(body, 2).is_ok());
        assert!(check_depth(b"[[[]]]", 2).is_err());
    }

    #[test]
    fn go_escapes_html_characters() {
        let mut report = Report::default();
        report.id = "a<b>&c\u{2028}".into();
        let text = String::from_utf8(encode(&report)).unwrap();
        assert!(
            text.contains(r#""ID":"a\u003cb\u003e\u0026c\u2028""#),
            "{text}"
        );
    }
}
