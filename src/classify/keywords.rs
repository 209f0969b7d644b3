//! Keyword rules: one group per `keywords/*.toml` file.
//!
//! A rule matches a mention by literal terms (case-insensitive, anywhere in the text), by
//! regular expressions, or by its author's account. All terms of all rules are compiled into
//! one Aho-Corasick automaton and all patterns into one `RegexSet`, so matching costs one pass
//! over the text whatever the number of rules. Each file carries its own test cases
//! (`[[tests]]`), which `herald check` and the test suite run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexSet};
use serde::Deserialize;

use crate::config::source::{self, TomlSource};
use crate::config::{is_slug, ConfigError};

/// One validated rule file.
#[derive(Debug, Clone)]
pub struct KeywordGroup {
    pub group: String,
    pub description: Option<String>,
    pub rules: Vec<Rule>,
    pub tests: Vec<RuleTest>,
    pub path: PathBuf,
}

/// One rule of a group.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub terms: Vec<String>,
    pub patterns: Vec<String>,
    pub accounts: Vec<String>,
}

/// A test case carried by a rule file.
#[derive(Debug, Clone)]
pub struct RuleTest {
    pub text: String,
    pub author: Option<String>,
    /// Exactly the rules of the file expected to match.
    pub matches: BTreeSet<String>,
    /// Where the case is, for reporting a failure.
    pub index: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    group: String,
    description: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    tests: Vec<RawTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(default)]
    terms: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    text: String,
    author: Option<String>,
    matches: Vec<String>,
}

/// Loads every `*.toml` in `dir` except the reply templates (`replies.toml`, a different format).
pub fn load_dir(dir: &Path) -> Result<Vec<KeywordGroup>, Vec<ConfigError>> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
            .filter(|p| p.file_name().and_then(|n| n.to_str()) != Some("replies.toml"))
            .collect(),
        Err(e) => {
            return Err(vec![ConfigError::whole_file(
                dir,
                "keywords",
                format!("cannot read folder: {e}"),
            )])
        }
    };
    paths.sort();
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for path in paths {
        let src = match source::read(&path) {
            Ok(s) => s,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match src
            .parse::<RawFile>()
            .map_err(|e| vec![e])
            .and_then(|raw| validate(raw, &src))
        {
            Ok(g) => {
                if !names.insert(g.group.clone()) {
                    errors.push(src.error(
                        "group",
                        format!("group {:?} is also defined in another file", g.group),
                    ));
                }
                groups.push(g);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

fn validate(raw: RawFile, src: &TomlSource) -> Result<KeywordGroup, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut err = |key: &str, why: String| errors.push(src.error(key, why));
    if !is_slug(&raw.group) {
        err(
            "group",
            format!(
                "{:?} is not a group name: use lowercase letters, digits, '-' and '_'",
                raw.group
            ),
        );
    }
    let mut names = BTreeSet::new();
    let mut rules = Vec::new();
    for (i, r) in raw.rules.into_iter().enumerate() {
        if !is_slug(&r.name) {
            err(
                &format!("rules[{i}].name"),
                format!("{:?} is not a rule name", r.name),
            );
        } else if !names.insert(r.name.clone()) {
            err(
                &format!("rules[{i}].name"),
                format!("rule {:?} is defined twice", r.name),
            );
        }
        if r.terms.is_empty() && r.patterns.is_empty() && r.accounts.is_empty() {
            err(
                &format!("rules[{i}]"),
                "a rule needs terms, patterns or accounts".into(),
            );
        }
        for (j, t) in r.terms.iter().enumerate() {
            if t.trim().is_empty() {
                err(
                    &format!("rules[{i}].terms[{j}]"),
                    "an empty term would match everything".into(),
                );
            }
        }
        for (j, p) in r.patterns.iter().enumerate() {
            match Regex::new(p) {
                Ok(re) if re.is_match("") => err(
                    &format!("rules[{i}].patterns[{j}]"),
                    "the pattern matches empty text, so it would match everything".into(),
                ),
                Ok(_) => {}
                Err(e) => err(
                    &format!("rules[{i}].patterns[{j}]"),
                    format!("not a valid regex: {}", one_line(&e.to_string())),
                ),
            }
        }
        rules.push(Rule {
            name: r.name,
            terms: r.terms,
            patterns: r.patterns,
            accounts: r
                .accounts
                .into_iter()
                .map(|a| normalise_account(&a))
                .collect(),
        });
    }
    let mut tests = Vec::new();
    for (i, t) in raw.tests.into_iter().enumerate() {
        for (j, m) in t.matches.iter().enumerate() {
            if !names.contains(m) {
                err(
                    &format!("tests[{i}].matches[{j}]"),
                    format!("{m:?} is not a rule of this file"),
                );
            }
        }
        tests.push(RuleTest {
            text: t.text,
            author: t.author,
            matches: t.matches.into_iter().collect(),
            index: i,
        });
    }
    if errors.is_empty() {
        Ok(KeywordGroup {
            group: raw.group,
            description: raw.description,
            rules,
            tests,
            path: src.path.clone(),
        })
    } else {
        Err(errors)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Accounts compare without a leading `@` and case-insensitively.
fn normalise_account(a: &str) -> String {
    a.trim().trim_start_matches('@').to_lowercase()
}

/// One rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Match {
    pub group: String,
    pub rule: String,
    /// The term, pattern or account that matched (the text as found, for terms).
    pub term: String,
}

/// Every rule of every group, compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// (group, rule) per rule index.
    rules: Vec<(String, String)>,
    terms: AhoCorasick,
    term_rule: Vec<usize>,
    patterns: RegexSet,
    pattern_rule: Vec<usize>,
    accounts: Vec<(String, usize)>,
}

impl Matcher {
    /// Compiles the groups. Patterns were validated on load, so this fails only on limits
    /// (an automaton too large), reported as a message.
    pub fn new(groups: &[KeywordGroup]) -> Result<Self, String> {
        let mut rules = Vec::new();
        let (mut terms, mut term_rule) = (Vec::new(), Vec::new());
        let (mut patterns, mut pattern_rule) = (Vec::new(), Vec::new());
        let mut accounts = Vec::new();
        for g in groups {
            for r in &g.rules {
                let idx = rules.len();
                rules.push((g.group.clone(), r.name.clone()));
                for t in &r.terms {
                    terms.push(t.clone());
                    term_rule.push(idx);
                }
                for p in &r.patterns {
                    patterns.push(p.clone());
                    pattern_rule.push(idx);
                }
                for a in &r.accounts {
                    accounts.push((a.clone(), idx));
                }
            }
        }
        // A full DFA: the overlapping search runs on every mention, and the automaton of a
        // brand's few hundred terms is small (the default kind is a slower automaton; the
        // overlapping search showed high in a perf profile of the pipeline).
        let terms = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&terms)
            .map_err(|e| e.to_string())?;
        let patterns = RegexSet::new(&patterns).map_err(|e| e.to_string())?;
        Ok(Self {
            rules,
            terms,
            term_rule,
            patterns,
            pattern_rule,
            accounts,
        })
    }

    /// The rules matching a text and its author, each once, in (group, rule) order.
    pub fn matches(&self, text: &str, author: Option<&str>) -> Vec<Match> {
        // Most mentions match no rule: the table of hits is only allocated on the first one,
        // so such a mention costs the scans and no allocation.
        let mut hit: Vec<Option<String>> = Vec::new();
        let rules = self.rules.len();
        let mut mark = |r: usize, term: &dyn Fn() -> String| {
            if hit.is_empty() {
                hit.resize(rules, None);
            }
            hit[r].get_or_insert_with(term);
        };
        // Overlapping search: a term inside another ("日产" in "东风日产") still counts.
        for m in self.terms.find_overlapping_iter(text) {
            let r = self.term_rule[m.pattern().as_usize()];
            mark(r, &|| text[m.start()..m.end()].to_string());
        }
        // `is_match` first: it needs no per-call table of matches, and most texts match
        // no pattern.
        if self.patterns.is_match(text) {
            for i in self.patterns.matches(text).iter() {
                let r = self.pattern_rule[i];
                mark(r, &|| self.patterns.patterns()[i].clone());
            }
        }
        if !self.accounts.is_empty() {
            if let Some(author) = author.map(normalise_account) {
                for (a, r) in &self.accounts {
                    if *a == author {
                        mark(*r, &|| a.clone());
                    }
                }
            }
        }
        let mut out: Vec<Match> = hit
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| {
                t.map(|term| Match {
                    group: self.rules[i].0.clone(),
                    rule: self.rules[i].1.clone(),
                    term,
                })
            })
            .collect();
        out.sort();
        out
    }
}

/// A rule file's test case that did not give what it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    pub file: PathBuf,
    pub index: usize,
    pub text: String,
    pub expected: BTreeSet<String>,
    pub got: BTreeSet<String>,
}

impl std::fmt::Display for TestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: tests[{}]: {:?} matched {:?}, expected {:?}",
            self.file.display(),
            self.index,
            self.text,
            self.got,
            self.expected
        )
    }
}

/// Runs every group's own test cases against that group's rules.
pub fn run_file_tests(groups: &[KeywordGroup]) -> Result<Vec<TestFailure>, String> {
    let mut failures = Vec::new();
    for g in groups {
        let matcher = Matcher::new(std::slice::from_ref(g))?;
        for t in &g.tests {
            let got: BTreeSet<String> = matcher
                .matches(&t.text, t.author.as_deref())
                .into_iter()
                .map(|m| m.rule)
                .collect();
            if got != t.matches {
                failures.push(TestFailure {
                    file: g.path.clone(),
                    index: t.index,
                    text: t.text.clone(),
                    expected: t.matches.clone(),
                    got,
                });
            }
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(text: &str) -> Result<KeywordGroup, Vec<ConfigError>> {
        let src = TomlSource::new("keywords/crisis.toml", text, 1);
        let raw: RawFile = src.parse().map_err(|e| vec![e])?;
        validate(raw, &src)
    }

    const CRISIS: &str = r#"
group = "crisis"
[[rules]]
name = "brake"
terms = ["刹车失灵", "Brake Failure"]
[[rules]]
name = "fire"
terms = ["自燃"]
patterns = ['(?i)\bcaught fire\b']
[[rules]]
name = "troll"
accounts = ["@Troll.bsky.social"]
[[tests]]
text = "BRAKE FAILURE on my car and 刹车失灵"
matches = ["brake"]
"#;

    #[test]
    fn matches_terms_patterns_and_accounts() {
        let g = group(CRISIS).expect("valid");
        let m = Matcher::new(&[g]).expect("compile");
        let cases: &[(&str, Option<&str>, &[&str])] = &[
            ("车子自燃了", None, &["fire"]),
            ("my car Caught Fire yesterday", None, &["fire"]),
            ("fireworks tonight", None, &[]),
            (
                "brake failure",
                Some("troll.bsky.social"),
                &["brake", "troll"],
            ),
            (
                "刹车失灵还自燃",
                Some("@TROLL.bsky.social"),
                &["brake", "fire", "troll"],
            ),
        ];
        for (text, author, want) in cases {
            let got: Vec<String> = m
                .matches(text, *author)
                .into_iter()
                .map(|m| m.rule)
                .collect();
            assert_eq!(&got, want, "{text}");
        }
    }

    #[test]
    fn file_tests_run_and_report_failures() {
        let mut g = group(CRISIS).expect("valid");
        assert!(run_file_tests(std::slice::from_ref(&g))
            .expect("run")
            .is_empty());
        g.tests[0].matches = ["fire".to_string()].into();
        let failures = run_file_tests(&[g]).expect("run");
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].to_string().contains("tests[0]"),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn mistakes_name_line_and_key() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("group = \"Crisis!\"\n", 1, "group", "not a group name"),
            ("group = \"c\"\n[[rules]]\nname = \"a\"\n", 2, "rules[0]", "needs terms"),
            ("group = \"c\"\n[[rules]]\nname = \"a\"\npatterns = ['(unclosed']\n", 4, "rules[0].patterns[0]", "not a valid regex"),
            ("group = \"c\"\n[[rules]]\nname = \"a\"\npatterns = ['x*']\n", 4, "rules[0].patterns[0]", "matches empty"),
            ("group = \"c\"\n[[rules]]\nname = \"a\"\nterms = [\"x\"]\n[[rules]]\nname = \"a\"\nterms = [\"y\"]\n", 6, "rules[1].name", "defined twice"),
            ("group = \"c\"\n[[rules]]\nname = \"a\"\nterms = [\"x\"]\n[[tests]]\ntext = \"x\"\nmatches = [\"b\"]\n", 7, "tests[0].matches[0]", "not a rule"),
            ("group = \"c\"\n[[rules]]\nname = \"a\"\nterm = [\"x\"]\n", 4, "rules[0].term", "unknown field"),
        ];
        for (text, line, key, why) in cases {
            let errors = group(text).expect_err(text);
            let e = &errors[0];
            assert_eq!((e.key.as_str(), e.line), (*key, *line), "{text:?} gave {e}");
            assert!(e.why.contains(why), "{e}");
        }
    }
}
