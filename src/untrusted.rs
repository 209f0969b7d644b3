//! Untrusted text (mention text, author names, anything a platform or page sent) made inert for
//! the places it is shown to people: terminals and log lines. The web UI escapes HTML through its
//! templates and isolates direction with `<bdi>`; this module is for plain text.
//!
//! Two kinds of characters act instead of being read: control characters (a newline forges a log
//! line, ESC sequences clear or retitle a terminal, a carriage return hides what came before) and
//! invisible format characters, chiefly the bidirectional controls that make U+202E `admin` U+202C display as
//! "nimda". Both are written as `\u{..}` escapes, so what was sent stays visible and nothing acts.

use std::borrow::Cow;

/// Whether `c` is a bidirectional control or an invisible format character that changes how the
/// text around it is displayed (U+061C, U+200B–U+200F, U+202A–U+202E, U+2060–U+2069, U+FEFF).
pub fn is_invisible_control(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}')
}

/// Whether `c` must be escaped in a terminal or a log line.
fn acts(c: char) -> bool {
    c.is_control() || is_invisible_control(c)
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

/// `text` with the bidirectional and invisible format characters removed: for places where an
/// escape would be noise (a name in a table) but the characters must not act.
pub fn strip_invisible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_invisible_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|c| !is_invisible_control(*c)).collect())
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
        assert_eq!(strip_invisible("\u{202E}admin\u{202C}"), "admin");
        assert_eq!(strip_invisible("plain"), "plain");
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
