//! Intent of a mention: `complaint | question | purchase | praise | other`.
//!
//! Cue phrases in Chinese and English, weighed with the sentiment score and the crisis keyword
//! matches. Order of precedence, from what a community manager must see first: a complaint
//! (even one that asks a question or mentions buying), then purchase interest (a lead), then a
//! question, then praise. The cue phrases are found by [`super::phrases`].

use serde::{Deserialize, Serialize};

use super::phrases::{self, COMPLAINT, INTEREST, PRAISE, QUESTION};

/// What a mention wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    Complaint,
    Question,
    Praise,
    Purchase,
    /// Nothing to answer; also what a stored mention without an intent reads as.
    #[default]
    Other,
}

impl Intent {
    /// The lowercase name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Complaint => "complaint",
            Intent::Question => "question",
            Intent::Praise => "praise",
            Intent::Purchase => "purchase",
            Intent::Other => "other",
        }
    }
}

/// The intent of `text`, given its sentiment score (−1..1) and whether a crisis rule matched.
pub fn intent(text: &str, sentiment: f32, crisis: bool) -> Intent {
    from_cues(phrases::scan(text), sentiment, crisis)
}

/// The intent from the cue flags [`phrases::scan`] found (the pipeline scans once for intent
/// and lead).
pub fn from_cues(found: u16, sentiment: f32, crisis: bool) -> Intent {
    let complaint = found & COMPLAINT != 0 || crisis;
    let praise = found & PRAISE != 0;
    // A complaint cue decides unless praise is there too and the text reads positive ("异响
    // 一次就搞定了，感谢"): sarcasm ("recalled twice this year. what a joke") often fools
    // the sentiment score, a complaint word less often.
    if complaint && (!praise || sentiment <= 0.2) {
        return Intent::Complaint;
    }
    if found & INTEREST != 0 && !complaint {
        // Purchase talk in a strongly negative text is a buyer complaining (a quote that went
        // up, a deposit and no car), unless it praises something too.
        if sentiment < -0.7 && !praise {
            return Intent::Complaint;
        }
        return Intent::Purchase;
    }
    if found & QUESTION != 0 {
        return Intent::Question;
    }
    // A strongly negative text is a complaint even with a praise word in it ("not great",
    // "真是谢谢你们啊"). (A complaint word that got here came with praise and a positive
    // score: praise.)
    if sentiment < -0.6 || sentiment < -0.5 && !praise {
        return Intent::Complaint;
    }
    if praise && sentiment >= -0.5 || sentiment > 0.7 {
        return Intent::Praise;
    }
    Intent::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use Intent::*;

    #[test]
    fn intents_table() {
        // (text, sentiment score, crisis match, expected)
        let cases: &[(&str, f32, bool, Intent)] = &[
            (
                "刹车失灵了，4S店推来推去，我要投诉！",
                -0.9,
                true,
                Complaint,
            ),
            ("车子异响三次修不好，怎么办？", -0.6, false, Complaint),
            (
                "My X-Trail caught fire on the highway",
                -0.7,
                true,
                Complaint,
            ),
            ("worst service ever, never again", -0.9, false, Complaint),
            ("奇骏e-POWER落地价多少？想下个月买", 0.0, false, Purchase),
            (
                "Can I book a test drive of the Ariya on Saturday?",
                0.1,
                false,
                Purchase,
            ),
            ("保养一次多久？需要预约吗", 0.0, false, Question),
            ("How often should I rotate the tires?", 0.0, false, Question),
            ("销售小王很专业，服务贴心，点赞！", 0.9, false, Praise),
            (
                "Thanks for the quick repair, great team",
                0.8,
                false,
                Praise,
            ),
            ("今天路过你们店", 0.0, false, Other),
            ("the new brochure is out", 0.1, false, Other),
            ("等了两个小时没人管", -0.7, false, Complaint),
            // "how" in a statement asks nothing; at a clause's start it does.
            ("that's how it goes on a monday", 0.0, false, Other),
            (
                "Great car. How often should I service it",
                0.5,
                false,
                Question,
            ),
            // Sarcasm with a positive score: the complaint word decides.
            (
                "recalled twice this year. what a joke",
                0.68,
                false,
                Complaint,
            ),
            // A praise word in a strongly negative text.
            (
                "the screen is not great. laggy, freezes",
                -0.78,
                false,
                Complaint,
            ),
            // A complaint word with praise and a positive score is praise.
            ("异响一次就搞定了，感谢李师傅", 0.8, false, Praise),
            ("到底什么时候能给我换？？？", -0.4, false, Complaint),
            // Purchase talk that reads strongly negative: a buyer complaining.
            (
                "贷款利率报的6.8%，中间差价吃得也太狠了",
                -0.75,
                false,
                Complaint,
            ),
            ("贷款利率多少？", -0.1, false, Purchase),
        ];
        for (text, s, crisis, want) in cases {
            assert_eq!(intent(text, *s, *crisis), *want, "{text}");
        }
    }
}
