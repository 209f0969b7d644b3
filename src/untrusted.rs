//! Untrusted text (mention text, author names, anything a platform or page sent) made inert for
//! the places it is shown to people: terminals and log lines ([`escape`]), and HTML or SVG built
//! in code rather than by a template ([`html`]: the web UI's few hand-written answers, the
//! report's charts). The web UI's templates escape HTML themselves and isolate direction with
//! `<bdi>`.
//!
//! Two kinds of characters act instead of being read: control characters (a newline forges a log
//! line, ESC sequences clear or retitle a terminal, a carriage return hides what came before) and
//! invisible format characters, chiefly the bidirectional controls that make U+202E `admin` U+202C display as
//! "nimda". Both are written as `\u{..}` escapes, so what was sent stays visible and nothing acts.

use std::borrow::Cow;

/// Whether `c` is a bidirectional formatting control: the embeddings and overrides
/// (U+202A–U+202E), the isolates (U+2066–U+2069) and the marks (U+200E, U+200F, U+061C). Joiners
/// (U+200C, U+200D) are not: emoji sequences and several scripts need them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Whether `c` must be escaped in a terminal or a log line.
fn acts(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `text` with every control and invisible format character written as `\u{..}`; borrowed
/// when there is none (the usual case).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` with the characters HTML and XML give a meaning (`& < > " '`) written as entities,
/// for text or an attribute value in markup built by hand.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` without bidirectional controls: for pages, where an escape would be noise and
/// `<bdi>` isolates what remains (right-to-left scripts still show right to left: the Unicode
/// algorithm needs no controls for that).
pub fn strip_bidi(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_bidi_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|c| !is_bidi_control(*c)).collect())
}

/// `text` on one line (runs of white space, newlines included, become one space), cut to `max`
/// characters with an ellipsis when it was longer: for listings, error messages and snippets.
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(max) {
        None => flat,
        Some((at, _)) => format!("{}…", &flat[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_shown_not_run() {
        assert_eq!(
            escape("hi\u{1b}[2Jthere\r\nforged"),
            "hi\\u{1b}[2Jthere\\u{d}\\u{a}forged"
        );
        assert_eq!(escape("\u{202E}admin\u{202C}"), "\\u{202e}admin\\u{202c}");
        assert_eq!(escape("a\u{2067}b\u{200F}c"), "a\\u{2067}b\\u{200f}c");
        assert!(matches!(escape("奇骏 ok 👍"), Cow::Borrowed(_)));
        assert_eq!(strip_bidi("\u{202E}admin\u{202C}"), "admin");
        assert_eq!(strip_bidi("a\u{200D}b"), "a\u{200D}b", "joiners stay");
        assert_eq!(one_line("a\n b  c", 10), "a b c");
        assert_eq!(one_line("一二三四五", 3), "一二三…");
        assert_eq!(one_line("一二三", 3), "一二三");
    }
}

/// One line of an input stream: its text, or why it is not text (invalid UTF-8).
pub type Line = Result<String, String>;

/// The lines of `input` (ending in `\n` or `\r\n`), each as its text or, when it is not valid
/// UTF-8, as why; a line that is not text is reported by the caller with its number and skipped
/// like any malformed line, and the lines after it are still read. Only a reading error ends
/// the iteration with `Err`.
pub fn lines<R: std::io::BufRead>(input: R) -> impl Iterator<Item = std::io::Result<Line>> {
    input.split(b'\n').map(|bytes| {
        bytes.map(|mut b| {
            if b.last() == Some(&b'\r') {
                b.pop();
            }
            String::from_utf8(b).map_err(|e| {
                format!(
                    "not valid UTF-8 (byte {} of the line)",
                    e.utf8_error().valid_up_to() + 1
                )
            })
        })
    })
}

#[cfg(test)]
mod line_tests {
    #[test]
    fn a_line_that_is_not_text_is_reported_and_the_next_is_read() {
        let input: &[u8] = b"{\"a\":1}\r\n\xff\xfe bad\nthird\n";
        let got: Vec<_> = super::lines(input).map(|l| l.expect("read")).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_deref(), Ok("{\"a\":1}"));
        assert_eq!(
            got[1].as_ref().map_err(String::as_str),
            Err("not valid UTF-8 (byte 1 of the line)")
        );
        assert_eq!(got[2].as_deref(), Ok("third"));
    }
}
