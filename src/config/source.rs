//! Where in a TOML file a key lives.
//!
//! Validation works on plain serde structs and names a problem by its key path (`peaks[1].end`);
//! this module turns such a path, or a byte span from the TOML parser, back into a line and a
//! column of the file, so every error can say `file:line:column: key: why`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::ConfigError;

/// One TOML text and where it came from.
///
/// `first_line` is the line of the file the text starts on (1 for a whole file, 2 for front matter
/// that follows a `+++` line), so positions are reported as a person sees them in the file.
#[derive(Debug, Clone)]
pub struct TomlSource {
    pub path: PathBuf,
    pub text: String,
    pub first_line: usize,
}

impl TomlSource {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>, first_line: usize) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            first_line,
        }
    }

    /// Deserializes the text, turning a parse or type error into a located [`ConfigError`].
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(&self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let mut offset = span.start;
            let mut key = self.key_at(&span).unwrap_or_else(|| "syntax".to_string());
            // toml's messages end with a newline and sometimes repeat the position; keep the why.
            let why = e.message().trim().replace('\n', " ");
            // An unknown field is reported at its table (always so for tagged enums); point at
            // the field itself.
            if let Some(field) = unknown_field(&why).filter(|f| !key.ends_with(f)) {
                let path = if key == "syntax" {
                    field.to_string()
                } else {
                    format!("{key}.{field}")
                };
                if let Some(r) = self.locate_full(&path) {
                    offset = r.start;
                    key = path;
                } else if let Some((p, r)) =
                    self.find_field(field, key.split('[').next().unwrap_or(""))
                {
                    // An array of tagged tables reports the error at the array: find the
                    // element that has the field.
                    offset = r.start;
                    key = p;
                }
            }
            // A type or syntax error in a `*_env` value quotes the value, which may be the
            // secret itself: say what belongs there instead.
            let why = if super::env::is_env_key(&key) {
                super::env::NOT_A_QUOTED_ENV_NAME.to_string()
            } else {
                why
            };
            self.error_at(offset, key, why)
        })
    }

    /// An error for a key path (`a.b[2].c`); the position is that of the deepest part of the path
    /// that exists in the file, or the top of the file.
    pub fn error(&self, key: &str, why: impl Into<String>) -> ConfigError {
        let offset = self.locate(key).map(|r| r.start).unwrap_or(0);
        self.error_at(offset, key.to_string(), why.into())
    }

    /// An error at a byte offset of the text.
    pub fn error_at(&self, offset: usize, key: String, why: String) -> ConfigError {
        let (line, column) = line_column(&self.text, offset);
        ConfigError {
            file: self.path.clone(),
            line: line + self.first_line - 1,
            column,
            key,
            why,
        }
    }

    /// The span of the deepest existing part of `path`.
    pub fn locate(&self, path: &str) -> Option<Range<usize>> {
        self.walk(path).0
    }

    /// The span of `path` only if the whole path exists.
    fn locate_full(&self, path: &str) -> Option<Range<usize>> {
        match self.walk(path) {
            (span, true) => span,
            _ => None,
        }
    }

    /// Follows `path` as far as the file has it: the span reached, and whether it is all there.
    fn walk(&self, path: &str) -> (Option<Range<usize>>, bool) {
        let (root, _) = DeTable::parse_recoverable(&self.text);
        let mut value: Option<&Spanned<DeValue<'_>>> = None;
        let mut span = None;
        for part in split_path(path) {
            match part {
                PathPart::Key(k) => {
                    let table = match value.map(|v| v.get_ref()) {
                        None => root.get_ref(),
                        Some(DeValue::Table(t)) => t,
                        Some(_) => return (span, false),
                    };
                    let Some((key, v)) = table.get_key_value(k) else {
                        return (span, false);
                    };
                    span = Some(key.span());
                    value = Some(v);
                }
                PathPart::Index(i) => {
                    let Some(DeValue::Array(a)) = value.map(|v| v.get_ref()) else {
                        return (span, false);
                    };
                    let Some(item) = a.get(i) else {
                        return (span, false);
                    };
                    span = Some(item.span());
                    value = Some(item);
                }
            }
        }
        (span, true)
    }

    /// The first key named `field` under the table or array `prefix`, with its path and span.
    fn find_field(&self, field: &str, prefix: &str) -> Option<(String, Range<usize>)> {
        let (root, _) = DeTable::parse_recoverable(&self.text);
        let top = root.get_ref().get(prefix)?;
        let mut found = None;
        collect(top.get_ref(), prefix.to_string(), field, &mut found);
        found
    }

    /// The key path of the innermost key or value whose span holds `span.start`.
    pub fn key_at(&self, span: &Range<usize>) -> Option<String> {
        // Recoverable parsing keeps the keys around a syntax error, so even a malformed value
        // is reported under its key.
        let (root, _) = DeTable::parse_recoverable(&self.text);
        find_in_table(root.get_ref(), span.start)
    }
}

/// Searches every entry, not only those whose span holds the offset: a table opened by a
/// `[header]` has a value span that covers the header alone, not its keys below.
fn find_in_table(table: &DeTable<'_>, offset: usize) -> Option<String> {
    for (key, value) in table.iter() {
        if key.span().contains(&offset) {
            return Some(key.get_ref().to_string());
        }
        if let Some(inner) = find_in_value(value.get_ref(), offset) {
            let dot = if inner.starts_with('[') { "" } else { "." };
            return Some(format!("{}{dot}{inner}", key.get_ref()));
        }
        if value.span().contains(&offset) || value.span().start == offset {
            return Some(key.get_ref().to_string());
        }
    }
    None
}

fn find_in_value(value: &DeValue<'_>, offset: usize) -> Option<String> {
    match value {
        DeValue::Table(t) => find_in_table(t, offset),
        DeValue::Array(a) => {
            a.iter()
                .enumerate()
                .find_map(|(i, item)| match find_in_value(item.get_ref(), offset) {
                    Some(inner) => {
                        let dot = if inner.starts_with('[') { "" } else { "." };
                        Some(format!("[{i}]{dot}{inner}"))
                    }
                    None => item.span().contains(&offset).then(|| format!("[{i}]")),
                })
        }
        _ => None,
    }
}

fn collect(
    value: &DeValue<'_>,
    path: String,
    field: &str,
    found: &mut Option<(String, Range<usize>)>,
) {
    match value {
        DeValue::Table(t) => {
            for (k, v) in t.iter() {
                if found.is_some() {
                    return;
                }
                let p = format!("{path}.{}", k.get_ref());
                if k.get_ref() == field {
                    *found = Some((p, k.span()));
                    return;
                }
                collect(v.get_ref(), p, field, found);
            }
        }
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                if found.is_some() {
                    return;
                }
                collect(item.get_ref(), format!("{path}[{i}]"), field, found);
            }
        }
        _ => {}
    }
}

enum PathPart<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `peaks[1].end` into `peaks`, `1`, `end`.
fn split_path(path: &str) -> Vec<PathPart<'_>> {
    let mut parts = Vec::new();
    for segment in path.split('.') {
        let mut rest = segment;
        if let Some(open) = rest.find('[') {
            parts.push(PathPart::Key(&rest[..open]));
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(close) = stripped.find(']') else {
                    break;
                };
                if let Ok(i) = stripped[..close].parse() {
                    parts.push(PathPart::Index(i));
                }
                rest = &stripped[close + 1..];
            }
        } else {
            parts.push(PathPart::Key(rest));
        }
    }
    parts
}

/// The field named by serde's "unknown field `x`" message.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Reads a file into a [`TomlSource`], or says why it cannot.
pub fn read(path: &Path) -> Result<TomlSource, ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| TomlSource::new(path, text, 1))
        .map_err(|e| ConfigError::whole_file(path, "file", format!("cannot read: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "a = 1\n[mix]\nproduct = 30\n\n[[peaks]]\nname = \"x\"\n[[peaks]]\nname = \"y\"\nend = \"25:00\"\n";

    #[test]
    fn locates_nested_keys_and_array_items() {
        let src = TomlSource::new("p.toml", DOC, 1);
        let cases = [
            ("a", (1, 1)),
            ("mix.product", (3, 1)),
            ("peaks[1].end", (9, 1)),
            ("peaks[1].start", (7, 1)),
            ("nothing.here", (1, 1)),
        ];
        for (path, want) in cases {
            let e = src.error(path, "why");
            assert_eq!((e.line, e.column), want, "{path}");
            assert_eq!(e.key, path);
        }
    }

    #[test]
    fn front_matter_lines_are_offset() {
        let src = TomlSource::new("d.md", "x = 1\ny = 2\n", 2);
        assert_eq!(src.error("y", "bad").line, 3);
    }

    #[test]
    fn parse_errors_name_the_key() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Mix {
            product: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Doc {
            mix: Mix,
        }
        let src = TomlSource::new("p.toml", "[mix]\nproduct = \"thirty\"\n", 1);
        let e = src.parse::<Doc>().unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "mix.product"), "{e}");
        let src = TomlSource::new("p.toml", "[mix]\nproduct = 3\nprodcut = 4\n", 1);
        let e = src.parse::<Doc>().unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "mix.prodcut"), "{e}");
        assert!(e.why.contains("unknown field"), "{e}");
    }

    #[test]
    fn a_malformed_env_value_is_not_quoted_back() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Doc {
            token_env: String,
        }
        for text in [
            "token_env = 918273645546372819\n",
            "token_env = sk-live-918273645546\n",
            "token_env = [\"sk-live-918273645546\"]\n",
        ] {
            let e = TomlSource::new("h.toml", text, 1)
                .parse::<Doc>()
                .expect_err(text);
            assert_eq!((e.line, e.key.as_str()), (1, "token_env"), "{e}");
            assert!(e.why.contains("environment variable"), "{e}");
            assert!(!e.to_string().contains("918273645546"), "{e}");
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_column("名字 = 1\nab", 13), (2, 3));
        assert_eq!(line_column("名字 = 1", 7), (1, 4));
    }
}
