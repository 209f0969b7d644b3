//! Logging for people: one short line per event on stderr, `HH:MM:SS  LEVEL  Message  key=value`,
//! with every field value made inert (control characters, newlines, ANSI escapes and
//! bidirectional controls written as `\u{..}`, see [`crate::untrusted`]), so a mention's text or
//! an author's name can neither forge a log line nor rewrite the terminal of whoever tails the
//! log. Colour only when stderr is a terminal.
//!
//! `herald run` shows what a person cares about by default (`warn,herald=info`: posts published
//! or failed, alerts, sources failing); other commands only warnings. `HERALD_LOG` (any
//! `tracing` filter) selects more or less detail.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::untrusted;

/// Installs the subscriber; `long_running` selects the default detail of `herald run`.
pub fn init(long_running: bool) {
    let default = if long_running {
        "warn,herald=info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .fmt_fields(SafeFields)
        .event_format(Human { ansi })
        .init();
}

/// The line format: local time, the level unless it is INFO, the message, the fields of the
/// event and of the spans it is in.
pub struct Human {
    /// Colour the level (only when writing to a terminal).
    pub ansi: bool,
}

impl<S, N> FormatEvent<S, N> for Human
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "{}  ", chrono::Local::now().format("%H:%M:%S"))?;
        let level = *event.metadata().level();
        if level != Level::INFO {
            let (colour, name) = match level {
                Level::ERROR => ("31", "ERROR"),
                Level::WARN => ("33", "WARN"),
                Level::DEBUG => ("34", "DEBUG"),
                _ => ("2", "TRACE"),
            };
            if self.ansi {
                write!(writer, "\x1b[{colour}m{name}\x1b[0m  ")?;
            } else {
                write!(writer, "{name}  ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "  {fields}")?;
                    }
                }
            }
        }
        if level > Level::INFO {
            write!(writer, "  [{}]", event.metadata().target())?;
        }
        writeln!(writer)
    }
}

/// Formats fields as `message  key=value key=value`, every value escaped.
pub struct SafeFields;

impl<'writer> FormatFields<'writer> for SafeFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = Collect::default();
        fields.record(&mut visitor);
        let mut first = true;
        if let Some(message) = &visitor.message {
            writer.write_str(&untrusted::escape(message))?;
            first = false;
        }
        for (name, value) in &visitor.fields {
            if !first {
                writer.write_str(
                    if visitor.message.is_some() && name == &visitor.fields[0].0 {
                        "  "
                    } else {
                        " "
                    },
                )?;
            }
            first = false;
            write!(writer, "{name}={}", untrusted::escape(&cut(value)))?;
        }
        Ok(())
    }
}

/// The longest field value written whole: a 15,000-character mention must not fill a screen.
const MAX_VALUE_CHARS: usize = 300;

/// `value` cut to [`MAX_VALUE_CHARS`], saying how much was left out.
fn cut(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        None => value.into(),
        Some((at, _)) => {
            let rest = value[at..].chars().count();
            format!("{}…(+{rest} characters)", &value[..at]).into()
        }
    }
}

/// The fields of one event or span, as text.
#[derive(Default)]
struct Collect {
    message: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.push(field, text);
    }
}

impl Collect {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(ansi: bool, f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .fmt_fields(SafeFields)
            .event_format(Human { ansi })
            .with_max_level(Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().expect("buffer").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn untrusted_fields_cannot_forge_lines_or_drive_the_terminal() {
        let text = "great car\n00:00:00  ERROR  Store is gone\u{1b}]0;pwned\u{7}\u{1b}[2J";
        let author = "\u{202E}nimda\u{202C}";
        let out = logged(false, || {
            let span = tracing::info_span!("poll", source = "weibo\nfake=1");
            let _in = span.enter();
            tracing::info!(author = %author, text = %text, "Mention stored");
            tracing::warn!(error = "boom\r\n", "Source failing");
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(!out.contains('\u{1b}') && !out.contains('\u{202E}') && !out.contains('\r'));
        assert!(lines[0].contains("Mention stored  author=\\u{202e}nimda\\u{202c} text=great car\\u{a}00:00:00  ERROR"), "{out}");
        assert!(lines[0].contains("source=weibo\\u{a}fake=1"), "{out}");
        assert!(
            lines[1].contains("WARN  Source failing  error=boom\\u{d}\\u{a}"),
            "{out}"
        );
    }

    #[test]
    fn a_long_value_is_cut_and_says_so() {
        let long = "很".repeat(15_000);
        let out = logged(false, || tracing::info!(text = %long, "Mention"));
        assert!(
            out.contains(&format!("text={}…(+14700 characters)", "很".repeat(300))),
            "{out}"
        );
        assert!(out.chars().count() < 400);
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = logged(false, || tracing::warn!("Careful"));
        assert!(!plain.contains('\u{1b}'), "{plain}");
        let coloured = logged(true, || tracing::warn!("Careful"));
        assert!(coloured.contains("\u{1b}[33mWARN\u{1b}[0m"), "{coloured}");
    }
}
