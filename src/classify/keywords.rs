//! Keyword rules: one group per `keywords/*.toml` file.
//!
//! A rule matches a mention by literal terms (case-insensitive, anywhere in the text), by
//! regular expressions, or by its author's account. All terms of all rules are found in one
//! pass over the text ([`super::literals`]) whatever the number of rules. A regular expression
//! runs only when the text holds one of the literals every match of it must contain (worked out
//! from the expression's syntax tree, such as `recall` for `(?i)(?:^|[^a-z0-9])recall(?:s|ed)?`;
//! an expression without such literals always runs); those literals are found in the same pass
//! as the terms. Each file carries its own test cases (`[[tests]]`), which `herald check` and
//! the test suite run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};
use serde::Deserialize;

use super::literals::{Hit, Literals, LiteralsError};

use crate::config::error::{is_slug, ConfigError};
use crate::config::source::{self, TomlSource};

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

/// [`load_dir`] with its errors as one message, one line each (for the measuring programs).
pub fn load_dir_or_message(dir: &Path) -> Result<Vec<KeywordGroup>, String> {
    load_dir(dir).map_err(|errs| {
        errs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })
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
    /// What matched: the text as found for a term or a pattern (its first capture group when
    /// it has one), the account for an account rule.
    pub term: String,
}

/// Every rule of every group, compiled.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// (group, rule) per rule index.
    rules: Vec<(String, String)>,
    /// The terms (ids below `terms`), then the gate literals of the patterns.
    literals: Literals,
    terms: usize,
    term_rule: Vec<usize>,
    term_literals: Vec<String>,
    gate_literals: Vec<String>,
    /// The pattern each gate literal stands for (by id − `terms`).
    gate_pattern: Vec<usize>,
    /// Patterns without gate literals: tried on every text.
    ungated: Vec<usize>,
    patterns: Vec<Regex>,
    pattern_rule: Vec<usize>,
    accounts: Vec<(String, usize)>,
}

/// At most this many literals stand for one pattern (a case-insensitive word multiplies).
const GATE_MAX: usize = 64;
/// A character class is spelled out when it has at most this many characters.
const CLASS_MAX: u32 = 8;

type Strings = Vec<Vec<u8>>;

fn lowercase_set(mut v: Strings) -> Strings {
    for s in &mut v {
        s.make_ascii_lowercase();
    }
    v.sort();
    v.dedup();
    v
}

/// Every concatenation of a string of `a` and one of `b`, if there are few enough.
fn cross(a: &Strings, b: &Strings) -> Option<Strings> {
    if a.len() * b.len() > GATE_MAX {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            out.push([x.as_slice(), y.as_slice()].concat());
        }
    }
    Some(lowercase_set(out))
}

/// Every text `hir` can match, ASCII letters lowercased, when there are few (a superset: an
/// assertion counts as matching the empty text).
fn exact(hir: &Hir) -> Option<Strings> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(l) => Some(lowercase_set(vec![l.0.to_vec()])),
        HirKind::Class(Class::Unicode(c)) => {
            let n: u32 = c
                .ranges()
                .iter()
                .map(|r| r.end() as u32 - r.start() as u32 + 1)
                .sum();
            if n > CLASS_MAX {
                return None;
            }
            let chars = c.ranges().iter().flat_map(|r| r.start()..=r.end());
            Some(lowercase_set(
                chars.map(|ch| ch.to_string().into_bytes()).collect(),
            ))
        }
        HirKind::Class(Class::Bytes(c)) => {
            let n: u32 = c
                .ranges()
                .iter()
                .map(|r| u32::from(r.end()) - u32::from(r.start()) + 1)
                .sum();
            if n > CLASS_MAX {
                return None;
            }
            let bytes = c.ranges().iter().flat_map(|r| r.start()..=r.end());
            Some(lowercase_set(bytes.map(|b| vec![b]).collect()))
        }
        HirKind::Capture(c) => exact(&c.sub),
        HirKind::Repetition(r) => {
            let sub = exact(&r.sub)?;
            let mut out = vec![Vec::new()];
            for _ in 0..r.min {
                out = cross(&out, &sub)?;
            }
            match r.max {
                Some(max) if max == r.min => Some(out),
                Some(1) => {
                    out.extend(sub);
                    Some(lowercase_set(out))
                }
                _ => None,
            }
        }
        HirKind::Concat(parts) => parts
            .iter()
            .try_fold(vec![Vec::new()], |acc, p| cross(&acc, &exact(p)?)),
        HirKind::Alternation(branches) => {
            let mut out = Vec::new();
            for b in branches {
                out.extend(exact(b)?);
                if out.len() > GATE_MAX {
                    return None;
                }
            }
            Some(lowercase_set(out))
        }
    }
}

/// A literal set is usable as a gate when none of its strings is empty.
fn usable(set: Strings) -> Option<Strings> {
    (!set.is_empty() && set.iter().all(|s| !s.is_empty())).then_some(set)
}

/// The better gate: longer shortest literal, then fewer literals.
fn better(a: Option<Strings>, b: Option<Strings>) -> Option<Strings> {
    let score = |s: &Strings| {
        (
            s.iter().map(Vec::len).min().unwrap_or(0),
            std::cmp::Reverse(s.len()),
        )
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Literals (ASCII letters lowercased) at least one of which every match of `hir` contains,
/// if the syntax tree shows some.
fn needed(hir: &Hir) -> Option<Strings> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(_) | HirKind::Class(_) => usable(exact(hir)?),
        HirKind::Capture(c) => needed(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => needed(&r.sub),
        HirKind::Repetition(_) => None,
        HirKind::Alternation(branches) => {
            let mut out = Vec::new();
            for b in branches {
                out.extend(needed(b)?);
                if out.len() > GATE_MAX {
                    return None;
                }
            }
            usable(lowercase_set(out))
        }
        HirKind::Concat(parts) => {
            // Any part's needed literals will do, and so will the spelled-out texts of a run
            // of consecutive parts that have few: keep the best.
            let mut best = None;
            let mut run: Option<Strings> = None;
            for p in parts {
                best = better(best, needed(p));
                run = match (run.take(), exact(p)) {
                    (Some(r), Some(e)) => cross(&r, &e).or_else(|| {
                        best = better(best.take(), usable(r));
                        Some(e)
                    }),
                    (None, e) => e,
                    (Some(r), None) => {
                        best = better(best.take(), usable(r));
                        None
                    }
                };
            }
            if let Some(r) = run {
                best = better(best, usable(r));
            }
            best
        }
    }
}

/// The gate literals of a pattern: every text the pattern matches contains one of them (ASCII
/// letters ignoring case), or `None` when they cannot be worked out.
pub fn gate_literals(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::parse(pattern).ok()?;
    needed(&hir)?
        .into_iter()
        .map(|s| String::from_utf8(s).ok())
        .collect()
}

/// Why compiled keyword rules could not be built. Patterns were validated on load, so this
/// happens only on limits (an expression or automaton too large) or an empty literal.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The literals (terms and the patterns' gate literals) cannot be searched together.
    #[error(transparent)]
    Literals(#[from] LiteralsError),
    /// A pattern does not compile (beyond a size limit).
    #[error(transparent)]
    Pattern(#[from] regex::Error),
}

impl Matcher {
    /// Compiles the groups. Patterns were validated on load, so this fails only on limits
    /// (an expression too large).
    pub fn new(groups: &[KeywordGroup]) -> Result<Self, CompileError> {
        let mut rules = Vec::new();
        let (mut literals, mut term_rule) = (Vec::new(), Vec::new());
        let (mut pattern_src, mut pattern_rule) = (Vec::new(), Vec::new());
        let mut accounts = Vec::new();
        for g in groups {
            for r in &g.rules {
                let idx = rules.len();
                rules.push((g.group.clone(), r.name.clone()));
                for t in &r.terms {
                    literals.push(t.clone());
                    term_rule.push(idx);
                }
                for p in &r.patterns {
                    pattern_src.push(p.clone());
                    pattern_rule.push(idx);
                }
                for a in &r.accounts {
                    accounts.push((a.clone(), idx));
                }
            }
        }
        let terms = literals.len();
        let term_literals = literals.clone();
        let (mut gates, mut gate_pattern, mut ungated) = (Vec::new(), Vec::new(), Vec::new());
        for (i, p) in pattern_src.iter().enumerate() {
            match gate_literals(p) {
                Some(g) => {
                    gate_pattern.extend(std::iter::repeat_n(i, g.len()));
                    gates.extend(g);
                }
                None => ungated.push(i),
            }
        }
        literals.extend(gates.iter().cloned());
        let literals = Literals::new(&literals)?;
        let patterns = pattern_src
            .iter()
            .map(|p| Regex::new(p))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            rules,
            literals,
            terms,
            term_rule,
            term_literals,
            gate_literals: gates,
            gate_pattern,
            ungated,
            patterns,
            pattern_rule,
            accounts,
        })
    }

    /// The rules matching a text and its author, each once, in (group, rule) order.
    pub fn matches(&self, text: &str, author: Option<&str>) -> Vec<Match> {
        // Most mentions match no rule: the tables below are only allocated on a hit, so such a
        // mention costs the one scan and no allocation.
        let mut found: Vec<Hit> = Vec::new();
        self.literals.find_ac_order(text, &mut found);
        self.matches_from(text, author, &found)
    }

    /// The literals this matcher searches for, by id: the terms, then the gate literals of the
    /// patterns (for a pipeline that finds them together with other literals).
    pub fn literals(&self) -> Vec<String> {
        let mut out = self.term_literals.clone();
        out.extend(self.gate_literals.iter().cloned());
        out
    }

    /// [`Matcher::matches`] from the hits of this matcher's literals (ids as in
    /// [`Matcher::literals`]) in `text`, in [`Literals::find_ac_order`]'s order.
    pub fn matches_from(&self, text: &str, author: Option<&str>, found: &[Hit]) -> Vec<Match> {
        let mut hit: Vec<Option<String>> = Vec::new();
        let rules = self.rules.len();
        let mut mark = |r: usize, term: &dyn Fn() -> String| {
            if hit.is_empty() {
                hit.resize(rules, None);
            }
            hit[r].get_or_insert_with(term);
        };
        // Every occurrence counts: a term inside another ("日产" in "东风日产") still matches.
        let mut try_patterns: Vec<usize> = Vec::new();
        for m in found {
            let id = m.pattern as usize;
            if id < self.terms {
                let r = self.term_rule[id];
                mark(r, &|| text[m.start as usize..m.end as usize].to_string());
            } else {
                try_patterns.push(self.gate_pattern[id - self.terms]);
            }
        }
        if !try_patterns.is_empty() || !self.ungated.is_empty() {
            try_patterns.extend_from_slice(&self.ungated);
            try_patterns.sort_unstable();
            try_patterns.dedup();
            for &i in &try_patterns {
                if self.patterns[i].is_match(text) {
                    mark(self.pattern_rule[i], &|| {
                        pattern_term(&self.patterns[i], text)
                    });
                }
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

/// What a pattern found in `text`, as a match reports it: the text of the pattern's first
/// capture group when it has one and took part, else the whole match. Rules write the context
/// a term needs around a group (`(?i)(?:^|[^a-z0-9])(x[\s_-]?trail)`), so a community manager
/// reads "X-Trail", not the expression nor the character before it.
fn pattern_term(pattern: &Regex, text: &str) -> String {
    pattern
        .captures(text)
        .and_then(|c| c.get(1).or_else(|| c.get(0)))
        .map_or_else(String::new, |m| m.as_str().to_string())
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
pub fn run_file_tests(groups: &[KeywordGroup]) -> Result<Vec<TestFailure>, CompileError> {
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
    fn a_pattern_reports_the_text_it_found() {
        let g = group(
            r#"
group = "product"
[[rules]]
name = "x-trail"
patterns = ['(?i)(?:^|[^a-z0-9])(x[\s_-]?trail)']
[[rules]]
name = "altima"
patterns = ['天籁(?:[^之般]|$)']
"#,
        )
        .expect("valid");
        let m = Matcher::new(&[g]).expect("compile");
        let cases: &[(&str, &[(&str, &str)])] = &[
            // The first capture group, without the character before it.
            ("我的X-Trail又坏了", &[("x-trail", "X-Trail")]),
            ("an x trail owner", &[("x-trail", "x trail")]),
            // No group: the whole match, context included.
            ("天籁的油耗", &[("altima", "天籁的")]),
            ("天籁", &[("altima", "天籁")]),
            ("天籁之音", &[]),
        ];
        for (text, want) in cases {
            let got: Vec<(String, String)> = m
                .matches(text, None)
                .into_iter()
                .map(|m| (m.rule, m.term))
                .collect();
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(r, t)| (r.to_string(), t.to_string()))
                .collect();
            assert_eq!(got, want, "{text}");
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
    fn gate_literals_of_patterns() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("日产(?:[^量出品值能]|品牌|$)", Some(&["日产"])),
            ("(?i)(?:^|[^a-z0-9])vw(?:[^a-z0-9]|$)", Some(&["vw"])),
            (
                "(?i)(?:^|[^a-z0-9])model\\s?[3y](?:[^a-z0-9]|$)",
                Some(&["model"]),
            ),
            // (?i) folds s into ſ and k into the Kelvin sign: both spellings are gates.
            ("(?i)scam", Some(&["scam", "ſcam"])),
            ("(?i)(?:^|[^a-z0-9])x[\\s_-]?trail", Some(&["trail"])),
            ("起火(?:[^锅车]|$)", Some(&["起火"])),
            ("(?:^|[^车])游行", Some(&["游行"])),
            ("foo|bar", Some(&["bar", "foo"])),
            ("colou?r", Some(&["color", "colour"])),
            ("a+", Some(&["a"])),
            ("\\d+", None),
            ("x*y?", None),
            ("(?:foo|\\w)", None),
        ];
        for (pattern, want) in cases {
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(gate_literals(pattern), want, "{pattern}");
        }
    }

    /// The matcher as it was: an Aho-Corasick automaton over the terms and a `RegexSet`.
    struct Oracle {
        rules: Vec<(String, String, Vec<String>)>,
        ac: aho_corasick::AhoCorasick,
        term_rule: Vec<usize>,
        set: regex::RegexSet,
        patterns: Vec<String>,
        pattern_rule: Vec<usize>,
    }

    impl Oracle {
        fn new(groups: &[KeywordGroup]) -> Self {
            let mut rules = Vec::new();
            let (mut terms, mut term_rule, mut patterns, mut pattern_rule) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for g in groups {
                for r in &g.rules {
                    for t in &r.terms {
                        terms.push(t.clone());
                        term_rule.push(rules.len());
                    }
                    for p in &r.patterns {
                        patterns.push(p.clone());
                        pattern_rule.push(rules.len());
                    }
                    rules.push((g.group.clone(), r.name.clone(), r.accounts.clone()));
                }
            }
            let ac = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::Standard)
                .build(&terms)
                .expect("automaton");
            let set = regex::RegexSet::new(&patterns).expect("set");
            Self {
                rules,
                ac,
                term_rule,
                set,
                patterns,
                pattern_rule,
            }
        }

        fn matches(&self, text: &str, author: Option<&str>) -> Vec<Match> {
            let mut hit: Vec<Option<String>> = vec![None; self.rules.len()];
            for m in self.ac.find_overlapping_iter(text) {
                hit[self.term_rule[m.pattern().as_usize()]]
                    .get_or_insert_with(|| text[m.start()..m.end()].to_string());
            }
            for i in self.set.matches(text).iter() {
                hit[self.pattern_rule[i]].get_or_insert_with(|| {
                    let found = Regex::new(&self.patterns[i])
                        .expect("pattern")
                        .captures(text)
                        .expect("the set matched");
                    found
                        .get(1)
                        .unwrap_or_else(|| found.get(0).expect("match"))
                        .as_str()
                        .to_string()
                });
            }
            if let Some(author) = author.map(normalise_account) {
                for (r, rule) in self.rules.iter().enumerate() {
                    if let Some(a) = rule.2.iter().find(|a| **a == author) {
                        hit[r].get_or_insert_with(|| a.clone());
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

    #[test]
    fn same_matches_as_an_automaton_and_a_regex_set() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("keywords");
        let groups = load_dir(&dir).expect("keywords/");
        let matcher = Matcher::new(&groups).expect("compile");
        let oracle = Oracle::new(&groups);
        // Pieces of every term, pattern word and test text, and characters around them.
        let mut pieces: Vec<String> = Vec::new();
        for g in &groups {
            for r in &g.rules {
                for t in r.terms.iter().chain(&r.patterns) {
                    let chars: Vec<char> = t
                        .chars()
                        .filter(|c| !"()[]^$|?:*+\\".contains(*c))
                        .collect();
                    pieces.push(chars.iter().collect());
                    for w in chars.chunks(2) {
                        pieces.push(w.iter().collect());
                    }
                }
            }
            for t in &g.tests {
                pieces.push(t.text.clone());
            }
        }
        for p in [
            " ", "  ", "-", "_", "s", "ed", "ing", "X", "K", "ſ", "车", "品", "锅", "3", "y", "\n",
            "。",
        ] {
            pieces.push(p.to_string());
        }
        let mut seed = 0x1234_5678_9ABC_DEF0u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut matched = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..next(6) + 1 {
                let p = &pieces[next(pieces.len())];
                if next(2) == 0 {
                    text.push_str(&p.to_uppercase());
                } else {
                    text.push_str(p);
                }
            }
            let author = ["brand.test", "someone.example", "@Troll.bsky.social"][next(3)];
            let want = oracle.matches(&text, Some(author));
            matched += usize::from(!want.is_empty());
            assert_eq!(matcher.matches(&text, Some(author)), want, "{text:?}");
        }
        assert!(matched > 5_000, "{matched} texts matched");
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
