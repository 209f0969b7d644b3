//! Intent of a mention: `complaint | question | purchase | praise | other`.
//!
//! Cue phrases in Chinese and English, weighed with the sentiment score and the crisis keyword
//! matches. Order of precedence, from what a community manager must see first: a complaint
//! (even one that asks a question or mentions buying), then purchase interest (a lead), then a
//! question, then praise.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::lead;

/// What a mention wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    Complaint,
    Question,
    Praise,
    Purchase,
    Other,
}

static COMPLAINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)投诉|维权|差评|垃圾|太坑|被坑|坑人|骗子|欺诈|退车|退款|质量问题|故障|异响|漏油|抖动|熄火|失灵|自燃|断轴|召回|态度差|态度恶劣|服务差|不满意|太失望|失望透顶|再也不|无人理|没人管|拖着不|曝光|黑心|(?-u:\b)(?:complain(?:t|ed|ing)?|terrible|awful|worst|scam|fraud|refund|broken|defect(?:ive)?|rude|disappointed|unacceptable|never again|lawsuit|sue|recall)(?-u:\b)")
        .expect("static regex")
});
static QUESTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[?？]|请问|吗[。！!,，\s]*$|呢[。\s]*$|怎么|如何|什么|哪里|哪家|哪个|多久|几点|能不能|可不可以|是否|有没有|(?-u:\b)(?:how|what|when|where|why|which|can\s+i|could\s+you|does|do\s+you|is\s+there|are\s+there|anyone\s+know)(?-u:\b)")
        .expect("static regex")
});
static PRAISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)点赞|好评|满意|感谢|谢谢|推荐|给力|专业|贴心|靠谱|超赞|太棒|喜欢|爱了|👍|❤️|😍|(?-u:\b)(?:love|great|thanks?|thank\s+you|recommend(?:ed)?|awesome|excellent|amazing|fantastic|helpful|kudos)(?-u:\b)")
        .expect("static regex")
});

/// The intent of `text`, given its sentiment score (−1..1) and whether a crisis rule matched.
pub fn intent(text: &str, sentiment: f32, crisis: bool) -> Intent {
    let complaint = COMPLAINT.is_match(text) || crisis;
    if complaint && sentiment <= 0.2 {
        return Intent::Complaint;
    }
    if lead::purchase_interest(text) && !complaint {
        return Intent::Purchase;
    }
    if QUESTION.is_match(text) {
        return Intent::Question;
    }
    if complaint || sentiment < -0.5 {
        return Intent::Complaint;
    }
    if PRAISE.is_match(text) && sentiment >= -0.2 || sentiment > 0.6 {
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
        ];
        for (text, s, crisis, want) in cases {
            assert_eq!(intent(text, *s, *crisis), *want, "{text}");
        }
    }
}
