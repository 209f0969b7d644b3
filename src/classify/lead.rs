//! Lead grades (playbook §5, made total in docs/contracts.md): contact data and purchase intent.
//!
//! - **hot**: a mobile number and near intent (a test drive, or buying within about 3 months);
//! - **warm**: a mobile or e-mail and purchase interest that is not hot;
//! - **cold**: a mobile or e-mail but no purchase interest (a complaint that leaves a number);
//! - **unvalued**: purchase interest but no contact;
//! - none: neither.
//!
//! Contact data is personal: [`mask`] hides it wherever a mention is logged. The cue phrases
//! (purchase interest, test drive, near time frame) are found by [`super::phrases`]; the
//! contact regexes run only on texts that could hold a contact.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::phrases::{self, INTEREST, MAYBE_EMAIL, MAYBE_PHONE, MONTHS_HINT, NEAR, TEST_DRIVE};

/// A lead's grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Hot,
    Warm,
    Cold,
    Unvalued,
}

impl Grade {
    /// The lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Hot => "hot",
            Grade::Warm => "warm",
            Grade::Cold => "cold",
            Grade::Unvalued => "unvalued",
        }
    }
}

/// What `herald classify` reports as `lead`. The fields beyond the contract's three read as
/// absent (`false`, `None`) from a store written before they existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    pub grade: Grade,
    #[serde(default)]
    pub phone: bool,
    #[serde(default)]
    pub email: bool,
    /// Months until the purchase, when the text says (`3个月内`, `next month`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeframe_months: Option<u32>,
    /// Wants a test drive.
    #[serde(default)]
    pub test_drive: bool,
}

/// Chinese mobile numbers (optionally +86, with spaces or dashes), and international numbers
/// written with a `+`.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(?:\+|00)86[\s-]?)?(?:^|[^\d])(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4})(?:[^\d]|$)|\+\d{1,3}[\s-]?\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}")
        .expect("static regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("static regex")
});
static MONTHS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)([一二两三四五六七八九十半\d]+)个?月|(\d+)\s*months?|(?:within\s+)?(a|one|two|three|six)\s+months?|半年|一年|明年|next\s+year")
        .expect("static regex")
});

fn chinese_number(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    let digits = [
        "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    ];
    match s {
        "两" => Some(2),
        "半" => Some(0),
        _ => digits.iter().position(|d| *d == s).map(|i| i as u32),
    }
}

/// The purchase time frame in months, if the text gives one.
fn timeframe(text: &str) -> Option<u32> {
    let c = MONTHS.captures(text)?;
    let all = c.get(0)?.as_str();
    if all == "半年" {
        return Some(6);
    }
    if all == "一年" || all == "明年" || all.eq_ignore_ascii_case("next year") {
        return Some(12);
    }
    if let Some(n) = c.get(1).and_then(|m| chinese_number(m.as_str())) {
        return Some(n.max(1));
    }
    if let Some(n) = c.get(2).and_then(|m| m.as_str().parse().ok()) {
        return Some(n);
    }
    match c.get(3)?.as_str().to_lowercase().as_str() {
        "a" | "one" => Some(1),
        "two" => Some(2),
        "three" => Some(3),
        "six" => Some(6),
        _ => None,
    }
}

/// Whether the text shows purchase interest.
pub fn purchase_interest(text: &str) -> bool {
    phrases::scan(text) & INTEREST != 0
}

/// Grades a mention. `None` when it has neither purchase interest nor contact data.
pub fn grade(text: &str) -> Option<Lead> {
    from_cues(text, phrases::scan(text))
}

/// Grades a mention from the cue flags [`phrases::scan`] found in it. The phone, e-mail and
/// time-frame regexes run only when the flags say they may match.
pub fn from_cues(text: &str, found: u16) -> Option<Lead> {
    let phone = found & MAYBE_PHONE != 0 && PHONE.is_match(text);
    let email = found & MAYBE_EMAIL != 0 && EMAIL.is_match(text);
    let interest = found & INTEREST != 0;
    if !(phone || email || interest) {
        return None;
    }
    let test_drive = found & TEST_DRIVE != 0;
    let timeframe_months = if found & MONTHS_HINT != 0 {
        timeframe(text)
    } else {
        None
    };
    let near = test_drive || found & NEAR != 0 || timeframe_months.is_some_and(|m| m <= 3);
    let grade = match (phone || email, interest) {
        (false, _) => Grade::Unvalued,
        (true, false) => Grade::Cold,
        (true, true) if phone && near => Grade::Hot,
        (true, true) => Grade::Warm,
    };
    Some(Lead {
        grade,
        phone,
        email,
        timeframe_months,
        test_drive,
    })
}

/// The text with phone numbers and e-mail addresses masked (`138****5678`, `a***@example.com`),
/// for logs.
pub fn mask(text: &str) -> String {
    let text = EMAIL.replace_all(text, |c: &regex::Captures| {
        let addr = &c[0];
        match addr.split_once('@') {
            Some((user, domain)) => {
                let first: String = user.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_string(),
        }
    });
    static DIGITS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\+?\d[\d\s-]{6,}\d").expect("static regex"));
    DIGITS
        .replace_all(&text, |c: &regex::Captures| {
            let digits: Vec<char> = c[0].chars().filter(char::is_ascii_digit).collect();
            if digits.len() < 7 {
                return c[0].to_string();
            }
            let head: String = digits[..3].iter().collect();
            let tail: String = digits[digits.len() - 4..].iter().collect();
            format!("{head}****{tail}")
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected grade, phone, e-mail.
    type Want = Option<(Grade, bool, bool)>;

    #[test]
    fn grades_table() {
        use Grade::*;
        let cases: &[(&str, Want)] = &[
            (
                "想下个月提车奇骏，电话13812345678",
                Some((Hot, true, false)),
            ),
            (
                "周末想来试驾，联系我 138-1234-5678",
                Some((Hot, true, false)),
            ),
            (
                "I'd like a test drive, call +86 139 1234 5678",
                Some((Hot, true, false)),
            ),
            (
                "打算半年内买车，邮箱 li.wei@example.com",
                Some((Warm, false, true)),
            ),
            (
                "想了解轩逸落地价，明年买，手机13912345678",
                Some((Warm, true, false)),
            ),
            (
                "buying next month, email me at sam@example.org",
                Some((Warm, false, true)),
            ),
            (
                "刹车有异响，投诉！我电话 13700001111",
                Some((Cold, true, false)),
            ),
            (
                "reach me at pat@example.com about the recall",
                Some((Cold, false, true)),
            ),
            ("奇骏多少钱？想买", Some((Unvalued, false, false))),
            (
                "What's the price of the Ariya?",
                Some((Unvalued, false, false)),
            ),
            ("今天天气不错", None),
            ("订单号 20261122 已处理", None),
        ];
        for (text, want) in cases {
            let got = grade(text).map(|l| (l.grade, l.phone, l.email));
            assert_eq!(got, *want, "{text}");
        }
    }

    #[test]
    fn timeframes() {
        for (text, months) in [
            ("三个月内买", Some(3)),
            ("半年后", Some(6)),
            ("within two months", Some(2)),
            ("明年再说", Some(12)),
            ("随便看看", None),
        ] {
            assert_eq!(timeframe(text), months, "{text}");
        }
    }

    #[test]
    fn masking_hides_contacts_and_keeps_the_rest() {
        let masked = mask("电话13812345678，邮箱 li.wei@example.com，订单 42");
        assert_eq!(masked, "电话138****5678，邮箱 l***@example.com，订单 42");
        assert_eq!(mask("+86 139-1234-5678"), "861****5678");
    }
}
