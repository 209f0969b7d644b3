//! `keywords/replies.toml`: reply templates, the values they fill in, the SLA per priority,
//! lifecycle-stage cues, and the file's own test cases.
//!
//! Loaded in two phases like every config file: strict serde structs (`deny_unknown_fields`),
//! then `validate` reports every problem as `file:line:column: key: why`. Choosing a template
//! is pure: [`Replies::choose`] takes what classification found and returns the most specific
//! template whose conditions all hold.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::TimeDelta;
use serde::Deserialize;

use crate::config::error::{is_slug, ConfigError};
use crate::config::source::{self, TomlSource};
use crate::domain::queue::Priority;

/// The variables a template may use.
pub const VARIABLES: [&str; 5] = ["author", "product", "dealer", "hotline", "link"];
/// The intents a template may answer (the classifier's names).
pub const INTENTS: [&str; 5] = ["complaint", "question", "purchase", "praise", "other"];
/// Lifecycle stages (playbook §7): purchase, first service, warranty, post-warranty, replacement.
pub const STAGES: [&str; 5] = [
    "purchase",
    "first-service",
    "warranty",
    "post-warranty",
    "replacement",
];
/// The languages templates are written in.
pub const LANGS: [&str; 2] = ["zh", "en"];

/// A text in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Bilingual {
    /// The text for `lang` (`zh`, else English).
    pub fn get(&self, lang: &str) -> &str {
        if lang == "zh" {
            &self.zh
        } else {
            &self.en
        }
    }
}

/// One reply template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// A slug, unique in the file.
    pub name: String,
    /// Answers mentions of these intents (empty: any).
    pub intents: Vec<String>,
    /// Needs a match of one of these (`group` or `group/rule`; empty: no condition).
    pub matches: Vec<String>,
    /// `zh` or `en`.
    pub lang: String,
    /// Only for customers at this lifecycle stage.
    pub stage: Option<String>,
    /// With `{author}`, `{product}`, `{dealer}`, `{hotline}`, `{link}`.
    pub text: String,
    /// The page `{link}` points to, instead of the default.
    pub link: Option<url::Url>,
}

impl Template {
    /// How many conditions it sets: the more, the more specific.
    fn specificity(&self) -> usize {
        usize::from(!self.intents.is_empty())
            + 2 * usize::from(!self.matches.is_empty())
            + 2 * usize::from(self.stage.is_some())
    }
}

/// A test case of the file: a mention and the template it must get (`none`: no draft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTest {
    /// Its index in `[[tests]]`.
    pub index: usize,
    /// The mention text.
    pub text: String,
    /// The mention's author (default `customer.test`).
    pub author: Option<String>,
    /// The mention's language tag, if it has one.
    pub lang: Option<String>,
    /// The template expected, or `none` for no draft.
    pub expect: String,
    /// Pieces the rendered reply must contain.
    pub contains: Vec<String>,
}

/// The validated reply configuration.
#[derive(Debug, Clone)]
pub struct Replies {
    /// Where it was read from.
    pub path: std::path::PathBuf,
    /// `{dealer}`.
    pub dealer: Bilingual,
    /// `{hotline}`.
    pub hotline: String,
    /// The link replies point to (tagged with the reply's source code when rendered).
    pub link: url::Url,
    /// The product named when the mention names none.
    pub default_product: Bilingual,
    /// Display names of the `product` keyword group's rules.
    pub products: BTreeMap<String, Bilingual>,
    /// The brand's own accounts: their posts are never answered.
    pub own_accounts: Vec<String>,
    /// A pending draft nobody decided on expires after this.
    pub expire_after: TimeDelta,
    /// Time to the first answer, per priority.
    pub sla: BTreeMap<Priority, TimeDelta>,
    /// Cue terms per lifecycle stage.
    pub stages: BTreeMap<String, Vec<String>>,
    /// In file order (the first wins a tie).
    pub templates: Vec<Template>,
    /// The file's own test cases.
    pub tests: Vec<ReplyTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    settings: RawSettings,
    #[serde(default)]
    sla: BTreeMap<String, i64>,
    #[serde(default)]
    products: BTreeMap<String, Bilingual>,
    #[serde(default)]
    stages: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    templates: Vec<RawTemplate>,
    #[serde(default)]
    tests: Vec<RawTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    dealer: Bilingual,
    hotline: String,
    link: String,
    product: Bilingual,
    #[serde(default)]
    own_accounts: Vec<String>,
    #[serde(default = "default_expiry")]
    expire_after_hours: i64,
}

fn default_expiry() -> i64 {
    72
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    name: String,
    #[serde(default)]
    intents: Vec<String>,
    #[serde(default)]
    matches: Vec<String>,
    lang: String,
    stage: Option<String>,
    text: String,
    link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    text: String,
    author: Option<String>,
    lang: Option<String>,
    expect: String,
    #[serde(default)]
    contains: Vec<String>,
}

/// Default SLA minutes per priority, for priorities the file leaves out.
fn default_sla(p: Priority) -> i64 {
    match p {
        Priority::Crisis => 30,
        Priority::Complaint => 120,
        Priority::Question => 240,
        Priority::Lead => 120,
        Priority::Praise | Priority::Other => 1440,
    }
}

/// Loads `path` (normally `keywords/replies.toml`): `Ok(None)` if there is no such file.
pub fn load(path: &Path) -> Result<Option<Replies>, Vec<ConfigError>> {
    if !path.exists() {
        return Ok(None);
    }
    let src = source::read(path).map_err(|e| vec![e])?;
    let raw: RawFile = src.parse().map_err(|e| vec![e])?;
    validate(raw, &src).map(Some)
}

/// Variables used in a template text: the names between `{` and `}`.
fn variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => {
                out.push(after.to_string());
                break;
            }
        }
    }
    out
}

fn validate(raw: RawFile, src: &TomlSource) -> Result<Replies, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut err = |key: &str, why: String| errors.push(src.error(key, why));
    let link = match url::Url::parse(&raw.settings.link) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(_) => {
            err("settings.link", "the link must be http or https".into());
            None
        }
        Err(e) => {
            err("settings.link", format!("not a URL: {e}"));
            None
        }
    };
    if raw.settings.hotline.trim().is_empty() {
        err("settings.hotline", "the hotline is empty".into());
    }
    if raw.settings.expire_after_hours <= 0 {
        err(
            "settings.expire_after_hours",
            "must be a positive number of hours".into(),
        );
    }
    let mut sla = BTreeMap::new();
    for p in Priority::ALL {
        sla.insert(p, TimeDelta::minutes(default_sla(p)));
    }
    for (k, minutes) in &raw.sla {
        match Priority::parse(k) {
            None => err(
                &format!("sla.{k}"),
                format!(
                    "{k:?} is not a priority: use {}",
                    Priority::ALL.map(Priority::as_str).join(", ")
                ),
            ),
            Some(_) if *minutes <= 0 => err(
                &format!("sla.{k}"),
                "must be a positive number of minutes".into(),
            ),
            Some(p) => {
                sla.insert(p, TimeDelta::minutes(*minutes));
            }
        }
    }
    for k in raw.products.keys() {
        if !is_slug(k) {
            err(
                &format!("products.{k}"),
                format!("{k:?} is not a rule name"),
            );
        }
    }
    for (k, terms) in &raw.stages {
        if !STAGES.contains(&k.as_str()) {
            err(
                &format!("stages.{k}"),
                format!("{k:?} is not a lifecycle stage: use {}", STAGES.join(", ")),
            );
        }
        if terms.iter().any(|t| t.trim().is_empty()) {
            err(
                &format!("stages.{k}"),
                "an empty cue would match everything".into(),
            );
        }
    }
    let mut names = BTreeSet::new();
    let mut templates = Vec::new();
    for (i, t) in raw.templates.into_iter().enumerate() {
        let key = |k: &str| format!("templates[{i}].{k}");
        if !is_slug(&t.name) {
            err(&key("name"), format!("{:?} is not a template name", t.name));
        } else if !names.insert(t.name.clone()) {
            err(
                &key("name"),
                format!("template {:?} is defined twice", t.name),
            );
        }
        for (j, intent) in t.intents.iter().enumerate() {
            if !INTENTS.contains(&intent.as_str()) {
                err(
                    &format!("templates[{i}].intents[{j}]"),
                    format!("{intent:?} is not an intent: use {}", INTENTS.join(", ")),
                );
            }
        }
        for (j, m) in t.matches.iter().enumerate() {
            let ok = m.split('/').count() <= 2 && m.split('/').all(is_slug);
            if !ok {
                err(
                    &format!("templates[{i}].matches[{j}]"),
                    format!("{m:?} is not `group` or `group/rule`"),
                );
            }
        }
        if !LANGS.contains(&t.lang.as_str()) {
            err(
                &key("lang"),
                format!("{:?} is not a template language: use zh or en", t.lang),
            );
        }
        if let Some(s) = &t.stage {
            if !STAGES.contains(&s.as_str()) {
                err(
                    &key("stage"),
                    format!("{s:?} is not a lifecycle stage: use {}", STAGES.join(", ")),
                );
            } else if !raw.stages.contains_key(s) {
                err(
                    &key("stage"),
                    format!("stage {s:?} has no cues in [stages], so it can never be known"),
                );
            }
        }
        if t.text.trim().is_empty() {
            err(&key("text"), "the text is empty".into());
        }
        for v in variables(&t.text) {
            if !VARIABLES.contains(&v.as_str()) {
                err(
                    &key("text"),
                    format!(
                        "unknown variable {{{v}}}: use {}",
                        VARIABLES.map(|v| format!("{{{v}}}")).join(", ")
                    ),
                );
            }
        }
        let link = match t.link.as_deref().map(url::Url::parse) {
            None => None,
            Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => Some(u),
            Some(Ok(_)) => {
                err(&key("link"), "the link must be http or https".into());
                None
            }
            Some(Err(e)) => {
                err(&key("link"), format!("not a URL: {e}"));
                None
            }
        };
        templates.push(Template {
            link,
            name: t.name,
            intents: t.intents,
            matches: t.matches,
            lang: t.lang,
            stage: t.stage,
            text: t.text,
        });
    }
    let mut tests = Vec::new();
    for (i, t) in raw.tests.into_iter().enumerate() {
        if t.expect != "none" && !names.contains(&t.expect) {
            err(
                &format!("tests[{i}].expect"),
                format!("{:?} is not a template of this file (or `none`)", t.expect),
            );
        }
        if let Some(l) = &t.lang {
            if l.trim().is_empty() {
                err(&format!("tests[{i}].lang"), "empty language".into());
            }
        }
        tests.push(ReplyTest {
            index: i,
            text: t.text,
            author: t.author,
            lang: t.lang,
            expect: t.expect,
            contains: t.contains,
        });
    }
    match (errors.is_empty(), link) {
        (true, Some(link)) => Ok(Replies {
            path: src.path.clone(),
            dealer: raw.settings.dealer,
            hotline: raw.settings.hotline,
            link,
            default_product: raw.settings.product,
            products: raw.products,
            own_accounts: raw
                .settings
                .own_accounts
                .iter()
                .map(|a| a.trim_start_matches('@').to_lowercase())
                .collect(),
            expire_after: TimeDelta::hours(raw.settings.expire_after_hours),
            sla,
            stages: raw.stages,
            templates,
            tests,
        }),
        _ => Err(errors),
    }
}

/// What template choice looks at.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The classifier's intent.
    pub intent: &'a str,
    /// `group/rule` of every match.
    pub topics: &'a [String],
    /// `zh` or `en`.
    pub lang: &'a str,
    /// The lifecycle stage, if known.
    pub stage: Option<&'a str>,
}

impl Replies {
    /// The most specific template whose conditions all hold (the first in the file on a tie).
    pub fn choose(&self, s: &Situation<'_>) -> Option<&Template> {
        let mut best: Option<&Template> = None;
        for t in &self.templates {
            let fits = t.lang == s.lang
                && (t.intents.is_empty() || t.intents.iter().any(|i| i == s.intent))
                && (t.matches.is_empty()
                    || t.matches.iter().any(|m| {
                        s.topics
                            .iter()
                            .any(|x| x == m || x.split('/').next() == Some(m.as_str()))
                    }))
                && t.stage.as_deref().is_none_or(|st| Some(st) == s.stage);
            if fits && best.is_none_or(|b| t.specificity() > b.specificity()) {
                best = Some(t);
            }
        }
        best
    }

    /// The lifecycle stage the text reveals, if any (the first stage, in lifecycle order,
    /// with a cue in the text).
    pub fn stage_of(&self, text: &str) -> Option<&'static str> {
        let lower = text.to_lowercase();
        STAGES.into_iter().find(|s| {
            self.stages
                .get(*s)
                .is_some_and(|cues| cues.iter().any(|c| lower.contains(&c.to_lowercase())))
        })
    }

    /// The SLA of a priority.
    pub fn sla(&self, p: Priority) -> TimeDelta {
        self.sla
            .get(&p)
            .copied()
            .unwrap_or_else(|| TimeDelta::minutes(default_sla(p)))
    }
}

/// Fills a template's variables. Values are inserted once, left to right, so a value that
/// itself contains `{…}` is never expanded again.
pub fn render(text: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    // An empty variable (no author) would leave a double space or a space before punctuation.
    out.split('\n')
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Replies, Vec<ConfigError>> {
        let src = TomlSource::new("keywords/replies.toml", text, 1);
        let raw: RawFile = src.parse().map_err(|e| vec![e])?;
        validate(raw, &src)
    }

    const HEAD: &str = r#"
[settings]
dealer = { zh = "锦程", en = "Jincheng" }
hotline = "028-1"
link = "https://example.com/c"
product = { zh = "日产", en = "Nissan" }
[stages]
first-service = ["首保"]
"#;

    #[test]
    fn the_most_specific_fitting_template_wins() {
        let r = parse(&format!(
            "{HEAD}
[[templates]]
name = \"any-zh\"
lang = \"zh\"
text = \"a\"
[[templates]]
name = \"complaint-zh\"
intents = [\"complaint\"]
lang = \"zh\"
text = \"b\"
[[templates]]
name = \"brake-zh\"
intents = [\"complaint\"]
matches = [\"crisis/brake\"]
lang = \"zh\"
text = \"c\"
[[templates]]
name = \"first-service-zh\"
intents = [\"complaint\"]
stage = \"first-service\"
lang = \"zh\"
text = \"d\"
"
        ))
        .expect("valid");
        let topics = vec!["crisis/brake".to_string()];
        let pick = |intent: &str, topics: &[String], lang: &str, stage: Option<&str>| {
            r.choose(&Situation {
                intent,
                topics,
                lang,
                stage,
            })
            .map(|t| t.name.clone())
        };
        assert_eq!(
            pick("complaint", &topics, "zh", None).as_deref(),
            Some("brake-zh")
        );
        assert_eq!(
            pick("complaint", &[], "zh", None).as_deref(),
            Some("complaint-zh")
        );
        assert_eq!(
            pick("complaint", &[], "zh", Some("first-service")).as_deref(),
            Some("first-service-zh")
        );
        assert_eq!(pick("praise", &[], "zh", None).as_deref(), Some("any-zh"));
        assert_eq!(pick("praise", &[], "en", None), None, "no English template");
        assert_eq!(r.stage_of("明天去做首保"), Some("first-service"));
        assert_eq!(r.stage_of("hello"), None);
    }

    #[test]
    fn bad_files_name_line_key_and_why() {
        let cases = [
            (
                "[[templates]]\nname = \"x\"\nlang = \"fr\"\ntext = \"a\"\n",
                "templates[0].lang",
                "zh or en",
            ),
            (
                "[[templates]]\nname = \"x\"\nlang = \"zh\"\ntext = \"hi {nme}\"\n",
                "templates[0].text",
                "unknown variable {nme}",
            ),
            (
                "[[templates]]\nname = \"x\"\nintents = [\"angry\"]\nlang = \"zh\"\ntext = \"a\"\n",
                "templates[0].intents[0]",
                "not an intent",
            ),
            (
                "[[templates]]\nname = \"x\"\nlang = \"zh\"\nstage = \"warranty\"\ntext = \"a\"\n",
                "templates[0].stage",
                "no cues",
            ),
            ("[sla]\nurgent = 5\n", "sla.urgent", "not a priority"),
            (
                "[[tests]]\ntext = \"a\"\nexpect = \"nope\"\n",
                "tests[0].expect",
                "not a template",
            ),
            (
                "[[templates]]\nname = \"x\"\nlang = \"zh\"\ntext = \"a\"\ncolour = 1\n",
                "colour",
                "unknown field",
            ),
        ];
        for (tail, key, why) in cases {
            let text = format!("{HEAD}{tail}");
            let errors = parse(&text).expect_err(tail);
            let e = errors
                .iter()
                .find(|e| e.key.contains(key))
                .unwrap_or_else(|| panic!("{tail}: {errors:?}"));
            assert!(e.why.contains(why), "{tail}: {e}");
            let head_lines = HEAD.lines().count();
            assert!(e.line > head_lines, "{tail}: {e} points into the header");
        }
    }

    #[test]
    fn rendering_fills_variables_once_and_tidies_gaps() {
        let vars: BTreeMap<&str, String> = [
            ("author", "".to_string()),
            ("product", "{link}".to_string()),
            ("link", "https://x".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            render("{author} 您好 {product} 见 {link} {unknown}", &vars),
            "您好 {link} 见 https://x {unknown}"
        );
        assert_eq!(variables("a {b} c {d"), ["b", "d"]);
    }
}
