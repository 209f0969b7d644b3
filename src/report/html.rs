//! The weekly report as HTML, in English or Chinese: [`body`] is the report itself (charts from
//! [`super::chart`] with a table beside each, so every number reads without the pictures), and
//! [`document`] wraps it into one self-contained file to e-mail: its stylesheet ([`CSS`]) inline
//! in a `<style>` block, nothing fetched from anywhere, no script.
//!
//! The web UI shows [`body`] inside its own layout and serves [`CSS`] as a stylesheet of its
//! own (its Content-Security-Policy forbids inline style), so the body carries no `style`
//! attribute. Every text drawn from the record is escaped. The words of both languages are in
//! [`STRINGS`], as the web UI keeps its own (`web::i18n`): a missing key shows the key.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use super::chart::{self, escape, figure, signed_pct};
use super::WeekReport;

pub use crate::lang::Lang;

/// `(key, English, Chinese)`: every word of the report.
pub const STRINGS: &[(&str, &str, &str)] = &[
    ("title", "Weekly report", "周报"),
    ("week_of", "Week", "周"),
    ("times_in", "Times in", "时区"),
    ("made_at", "made", "生成于"),
    (
        "partial",
        "This week is not over: figures up to the time the report was made.",
        "本周尚未结束：数据截至报告生成时间。",
    ),
    (
        "empty",
        "Nothing was recorded in this week: no posts planned or published, no mentions, no replies, no alerts.",
        "本周没有任何记录：没有排期或发布的帖子，没有提及、回复或预警。",
    ),
    ("none", "None this week.", "本周没有。"),
    (
        "none.hours",
        "No published posts in these five weeks.",
        "这五周没有已发布的帖子。",
    ),
    ("figures", "Figures", "数据"),
    // Sections.
    ("sec.summary", "This week against the four before", "本周与前四周对比"),
    ("sec.categories", "Content categories and the mix", "内容类别与配比"),
    ("sec.peaks", "Peak windows", "高峰时段"),
    ("sec.channels", "Channels", "渠道"),
    ("sec.hours", "Engagement per post by weekday and hour (five weeks)", "按星期与小时的每帖互动（五周）"),
    ("sec.clicks", "Clicks by source code", "按来源码统计的点击"),
    ("sec.replies", "Replies and the SLA", "回复与时效"),
    ("sec.people", "Replies per person", "每人回复情况"),
    ("sec.leads", "Leads", "潜客线索"),
    ("sec.sentiment", "Mentions and sentiment per day", "每日提及与情感"),
    ("sec.voice", "Share of voice", "声量份额"),
    ("sec.crises", "Crisis timeline", "危机时间线"),
    // Charts.
    ("chart.trend", "Planned and published posts and engagement per post, five weeks", "五周的排期、发布帖子数与每帖互动"),
    ("chart.this_week", "this week", "本周"),
    ("chart.categories", "Planned and published posts per category against the mix, and each category's lift", "各类别排期与发布帖子数对比配比目标，及各类别的互动提升"),
    ("chart.heatmap", "Engagement per post by local weekday and hour", "按本地星期与小时的每帖互动"),
    ("chart.sentiment", "Mentions per day: negative, positive and the rest", "每日提及：负面、正面及其他"),
    ("chart.crises", "Alerts of the week, from opening to resolve", "本周预警，从触发到解决"),
    ("chart.funnel", "Leads funnel", "线索漏斗"),
    // Figures.
    ("fig.week", "Week", "周"),
    ("fig.planned", "planned", "排期"),
    ("fig.published", "published", "已发布"),
    ("fig.engagement", "engagement", "互动"),
    ("fig.per_post", "per post", "每帖互动"),
    ("fig.clicks", "clicks", "点击"),
    ("fig.mentions", "mentions", "提及"),
    ("fig.negative_share", "negative share", "负面占比"),
    ("fig.replies_sent", "replies sent", "已发送回复"),
    ("fig.sla_met", "SLA met", "时效达标率"),
    ("fig.median_response", "median response", "响应时长中位数"),
    ("fig.p90_response", "90th percentile response", "响应时长 90 分位"),
    ("fig.leads", "leads", "线索"),
    ("fig.target", "mix target", "配比目标"),
    ("fig.share", "share", "占比"),
    ("fig.lift", "lift", "互动提升"),
    ("fig.posts", "posts", "帖子"),
    ("fig.negative", "negative", "负面"),
    ("fig.positive", "positive", "正面"),
    ("fig.other", "other", "其他"),
    ("fig.opened", "opened", "触发"),
    ("fig.acked", "acknowledged", "确认"),
    ("fig.resolved", "resolved", "解决"),
    ("fig.peak_negative", "peak negative", "负面峰值"),
    ("fig.level", "level", "级别"),
    ("fig.alert", "alert", "预警"),
    ("fig.name", "name", "名称"),
    ("fig.category", "category", "类别"),
    ("fig.channel", "channel", "渠道"),
    ("fig.code", "source code", "来源码"),
    ("fig.items", "inbox items", "待回复条目"),
    ("fig.answered", "answered", "已处理"),
    ("fig.within_sla", "within the SLA", "时效内处理"),
    ("fig.overdue", "overdue now", "当前超时"),
    ("fig.approved", "approved", "批准"),
    ("fig.edited", "edited", "修改后批准"),
    ("fig.rejected", "rejected", "不回复"),
    ("fig.person", "person", "人员"),
    ("fig.grade", "grade", "等级"),
    ("fig.source", "source", "来源"),
    ("fig.date", "date", "日期"),
    ("fig.hour", "hour", "小时"),
    ("fig.weekday", "weekday", "星期"),
    ("fig.own", "own brand", "本品牌"),
    ("fig.this_week", "this week", "本周"),
    ("fig.avg4", "average of the four before", "前四周平均"),
    ("fig.change", "change", "变化"),
    ("fig.minutes", "min", "分钟"),
    ("fig.hours", "h", "小时"),
    ("fig.still_open", "still open", "尚未解决"),
    ("funnel.found", "found", "发现线索"),
    ("funnel.replied", "replied to", "已回复"),
    ("funnel.contact", "left contact details", "留下联系方式"),
    ("funnel.test_drive", "asked for a test drive", "预约试驾"),
    ("level.crisis", "crisis", "危机"),
    ("level.warning", "warning", "警告"),
    ("grade.hot", "hot", "高意向"),
    ("grade.warm", "warm", "中意向"),
    ("grade.cold", "cold", "低意向"),
    ("day.0", "Mon", "周一"),
    ("day.1", "Tue", "周二"),
    ("day.2", "Wed", "周三"),
    ("day.3", "Thu", "周四"),
    ("day.4", "Fri", "周五"),
    ("day.5", "Sat", "周六"),
    ("day.6", "Sun", "周日"),
    (
        "hint.hours",
        "Darker cells had more engagement per published post; pale cells had no posts. The table lists every hour with posts.",
        "颜色越深，每帖互动越高；浅色格子表示没有发帖。下表列出所有发过帖的时段。",
    ),
    (
        "hint.categories",
        "A bar's tick marks the posts the [mix] target asks for; lift compares a category's engagement per post with that of all the others.",
        "竖线标出 [mix] 配比目标对应的帖子数；互动提升为该类别每帖互动相对其他所有类别的差异。",
    ),
];

/// The text of `key` in `lang` (the key itself if the table lacks it).
pub fn t(lang: Lang, key: &str) -> String {
    match STRINGS.iter().find(|(k, _, _)| *k == key) {
        Some((_, en, zh)) => match lang {
            Lang::En => (*en).to_string(),
            Lang::Zh => (*zh).to_string(),
        },
        None => key.to_string(),
    }
}

/// The report's stylesheet: inline in [`document`], served as a file by the web UI. Every rule
/// is under `.report`, so it cannot restyle the page around it.
pub const CSS: &str = "\
.report { font: 14px/1.45 system-ui, -apple-system, \"PingFang SC\", \"Noto Sans CJK SC\", \"Microsoft YaHei\", sans-serif; color: #1d2329; max-width: 62rem; }
.report h1 { font-size: 1.4rem; margin: 0 0 .2rem; }
.report h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid #d9dee3; padding-bottom: .2rem; }
.report h3 { font-size: .95rem; margin: 1rem 0 .3rem; }
.report .meta, .report .hint { color: #66717c; font-size: .9em; }
.report .empty { color: #66717c; font-style: italic; }
.report .notice { background: #fff3e0; padding: .4em .6em; }
.report svg.report-chart { width: 100%; max-width: 760px; height: auto; display: block; margin: .4rem 0; }
.report table { border-collapse: collapse; font-size: .9em; margin: .4rem 0 .8rem; }
.report th, .report td { border-bottom: 1px solid #d9dee3; padding: .25rem .55rem; text-align: left; vertical-align: top; }
.report th { background: #f4f6f8; font-weight: 600; }
.report td.num, .report th.num { text-align: right; font-variant-numeric: tabular-nums; }
.report tr.current td { font-weight: 600; }
.report .up { color: #2e7d32; }
.report .down { color: #b3261e; }
.report details summary { cursor: pointer; color: #0b62c4; }
";

/// One table cell: text (left) or a figure (right-aligned).
enum Cell {
    Text(String),
    Num(String),
}

fn table(s: &mut String, id: &str, heads: &[String], rows: &[Vec<Cell>]) {
    let _ = write!(
        s,
        "<table class=\"figures\" id=\"{}\"><thead><tr>",
        escape(id)
    );
    for (i, h) in heads.iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        let _ = write!(s, "<th{class}>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for c in row {
            match c {
                Cell::Text(v) => {
                    let _ = write!(s, "<td><bdi>{}</bdi></td>", escape(v));
                }
                Cell::Num(v) => {
                    let _ = write!(s, "<td class=\"num\">{}</td>", escape(v));
                }
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
}

fn opt(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite()).map_or("–".into(), figure)
}

fn pct(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{:.0} %", v * 100.0))
}

fn minutes(lang: Lang, v: Option<f64>) -> String {
    match v.filter(|v| v.is_finite()) {
        None => "–".into(),
        Some(m) if m >= 120.0 => format!("{} {}", figure(m / 60.0), t(lang, "fig.hours")),
        Some(m) => format!("{} {}", figure(m), t(lang, "fig.minutes")),
    }
}

/// The share of `part` in `whole` as a percentage, or `–` when `whole` is zero.
fn share(part: u32, whole: u32) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.0} %", 100.0 * f64::from(part) / f64::from(whole))
    }
}

/// Whether the reported week recorded nothing at all.
pub fn is_empty(r: &WeekReport) -> bool {
    let w = r.weeks.first().cloned().unwrap_or_default();
    w.planned == 0
        && w.published == 0
        && w.mentions == 0
        && w.replies_sent == 0
        && w.clicks == 0
        && w.leads == 0
        && r.replies.items == 0
        && r.crises.is_empty()
        && r.sentiment.iter().all(|d| d.mentions == 0)
}

fn section(s: &mut String, id: &str, lang: Lang, key: &str) {
    let _ = write!(
        s,
        "<section class=\"report-section\" id=\"{}\"><h2>{}</h2>",
        escape(id),
        escape(&t(lang, key))
    );
}

fn none(s: &mut String, lang: Lang) {
    let _ = write!(s, "<p class=\"empty\">{}</p>", escape(&t(lang, "none")));
}

/// How the week's figures compare: what a row of the summary table shows.
#[derive(Clone, Copy)]
enum Kind {
    /// A count or a ratio: the change is relative.
    Amount,
    /// A share (0..=1): the change is in percentage points.
    Share,
}

fn summary(s: &mut String, r: &WeekReport, lang: Lang, words: chart::Words<'_>) {
    section(s, "summary", lang, "sec.summary");
    s.push_str(&chart::trend(&r.weeks, words));
    let Some(this) = r.weeks.first() else {
        none(s, lang);
        s.push_str("</section>");
        return;
    };
    let before = &r.weeks[1..];
    type Get = fn(&super::WeekFigures) -> Option<f64>;
    let rows: [(&str, Kind, Get); 11] = [
        ("fig.planned", Kind::Amount, |w| Some(f64::from(w.planned))),
        ("fig.published", Kind::Amount, |w| {
            Some(f64::from(w.published))
        }),
        ("fig.engagement", Kind::Amount, |w| {
            Some(w.engagement as f64)
        }),
        ("fig.per_post", Kind::Amount, |w| w.per_post),
        ("fig.clicks", Kind::Amount, |w| Some(w.clicks as f64)),
        ("fig.mentions", Kind::Amount, |w| {
            Some(f64::from(w.mentions))
        }),
        ("fig.negative_share", Kind::Share, |w| w.negative_share),
        ("fig.replies_sent", Kind::Amount, |w| {
            Some(f64::from(w.replies_sent))
        }),
        ("fig.sla_met", Kind::Share, |w| w.sla_met),
        ("fig.median_response", Kind::Amount, |w| {
            w.median_response_minutes
        }),
        ("fig.leads", Kind::Amount, |w| Some(f64::from(w.leads))),
    ];
    let mut heads = vec![
        t(lang, "figures"),
        format!("{} {}", t(lang, "fig.this_week"), this.week.format("%m-%d")),
        t(lang, "fig.avg4"),
        t(lang, "fig.change"),
    ];
    heads.extend(before.iter().map(|w| w.week.format("%m-%d").to_string()));
    let show = |key: &str, kind: Kind, v: Option<f64>| match (key, kind) {
        (_, Kind::Share) => pct(v),
        ("fig.median_response", _) => minutes(lang, v),
        _ => opt(v),
    };
    let mut body = Vec::new();
    for (key, kind, get) in rows {
        let now = get(this).filter(|v| v.is_finite());
        let past: Vec<f64> = before
            .iter()
            .filter_map(get)
            .filter(|v| v.is_finite())
            .collect();
        let avg = (!past.is_empty()).then(|| past.iter().sum::<f64>() / past.len() as f64);
        let change = match (kind, now, avg) {
            (Kind::Amount, Some(n), Some(a)) if a > 0.0 => signed_pct(n / a - 1.0),
            (Kind::Share, Some(n), Some(a)) => {
                let pt = ((n - a) * 100.0).round();
                if pt > 0.0 {
                    format!("+{pt:.0} pt")
                } else {
                    format!("{pt:.0} pt")
                }
            }
            _ => "–".into(),
        };
        let mut row = vec![
            Cell::Text(t(lang, key)),
            Cell::Num(show(key, kind, now)),
            Cell::Num(show(key, kind, avg)),
            Cell::Num(change),
        ];
        row.extend(before.iter().map(|w| Cell::Num(show(key, kind, get(w)))));
        body.push(row);
    }
    table(s, "summary-table", &heads, &body);
    s.push_str("</section>");
}

fn slices(s: &mut String, id: &str, key: &str, rows: &[super::SliceRow], lang: Lang) {
    section(s, id, lang, key);
    if rows.is_empty() {
        none(s, lang);
    } else {
        let heads: Vec<String> = [
            "fig.name",
            "fig.planned",
            "fig.published",
            "fig.engagement",
            "fig.per_post",
            "fig.clicks",
        ]
        .iter()
        .map(|k| t(lang, k))
        .collect();
        let body: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.name.clone()),
                    Cell::Num(r.planned.to_string()),
                    Cell::Num(r.published.to_string()),
                    Cell::Num(r.engagement.to_string()),
                    Cell::Num(opt(r.per_post)),
                    Cell::Num(r.clicks.to_string()),
                ]
            })
            .collect();
        table(s, &format!("{id}-table"), &heads, &body);
    }
    s.push_str("</section>");
}

/// The local timezone of the report (UTC if its name is unknown).
fn zone(r: &WeekReport) -> chrono_tz::Tz {
    r.timezone.parse().unwrap_or(chrono_tz::UTC)
}

fn local(r: &WeekReport, at: DateTime<Utc>) -> String {
    at.with_timezone(&zone(r))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// The report itself, as an HTML fragment (`<article class="report">`): the header, then one
/// section per part, each a chart and its table, or a line saying there was nothing.
pub fn body(r: &WeekReport, lang: Lang) -> String {
    let words = |k: &str| t(lang, k);
    let words: chart::Words<'_> = &words;
    let mut s = String::new();
    let sunday = r.week + TimeDelta::days(6);
    let _ = write!(
        s,
        "<article class=\"report\" lang=\"{tag}\"><header><h1>{title} · {w} – {e}</h1>\
         <p class=\"meta\">{ti} <b>{tz}</b> · {made} {at}</p></header>",
        tag = lang.tag(),
        title = escape(&t(lang, "title")),
        w = r.week.format("%Y-%m-%d"),
        e = sunday.format("%Y-%m-%d"),
        ti = escape(&t(lang, "times_in")),
        tz = escape(&r.timezone),
        made = escape(&t(lang, "made_at")),
        at = escape(&local(r, r.generated_at)),
    );
    let week_end = (r.week + TimeDelta::days(7))
        .and_hms_opt(0, 0, 0)
        .and_then(|m| m.and_local_timezone(zone(r)).earliest())
        .map(|t| t.with_timezone(&Utc));
    if week_end.is_some_and(|end| r.generated_at < end) {
        let _ = write!(
            s,
            "<p class=\"notice\" id=\"report-partial\">{}</p>",
            escape(&t(lang, "partial"))
        );
    }
    if is_empty(r) {
        let _ = write!(
            s,
            "<p class=\"notice empty\" id=\"report-empty\">{}</p>",
            escape(&t(lang, "empty"))
        );
    }
    summary(&mut s, r, lang, words);

    // Categories and the mix.
    section(&mut s, "categories", lang, "sec.categories");
    if r.categories.is_empty() {
        none(&mut s, lang);
    } else {
        s.push_str(&chart::categories(&r.categories, words));
        let _ = write!(
            s,
            "<p class=\"hint\">{}</p>",
            escape(&t(lang, "hint.categories"))
        );
        let heads: Vec<String> = [
            "fig.category",
            "fig.target",
            "fig.planned",
            "fig.published",
            "fig.share",
            "fig.engagement",
            "fig.per_post",
            "fig.lift",
            "fig.clicks",
        ]
        .iter()
        .map(|k| t(lang, k))
        .collect();
        let body: Vec<Vec<Cell>> = r
            .categories
            .iter()
            .map(|c| {
                vec![
                    Cell::Text(c.category.clone()),
                    Cell::Num(format!("{} %", c.target_pct)),
                    Cell::Num(c.planned.to_string()),
                    Cell::Num(c.published.to_string()),
                    Cell::Num(
                        Some(c.share_pct)
                            .filter(|v| v.is_finite())
                            .map_or("–".into(), |v| format!("{v:.0} %")),
                    ),
                    Cell::Num(c.engagement.to_string()),
                    Cell::Num(opt(c.per_post)),
                    Cell::Num(
                        c.lift
                            .filter(|v| v.is_finite())
                            .map_or("–".into(), signed_pct),
                    ),
                    Cell::Num(c.clicks.to_string()),
                ]
            })
            .collect();
        table(&mut s, "categories-table", &heads, &body);
    }
    s.push_str("</section>");

    slices(&mut s, "peaks", "sec.peaks", &r.peaks, lang);
    slices(&mut s, "channels", "sec.channels", &r.channels, lang);

    // Weekday × hour.
    section(&mut s, "hours", lang, "sec.hours");
    if r.hours.is_empty() {
        let _ = write!(
            s,
            "<p class=\"empty\">{}</p>",
            escape(&t(lang, "none.hours"))
        );
    } else {
        s.push_str(&chart::heatmap(&r.hours, words));
        let _ = write!(
            s,
            "<p class=\"hint\">{}</p>",
            escape(&t(lang, "hint.hours"))
        );
        let mut cells: Vec<&super::HourCell> = r.hours.iter().collect();
        cells.sort_by_key(|c| (c.weekday, c.hour));
        let heads: Vec<String> = [
            "fig.weekday",
            "fig.hour",
            "fig.posts",
            "fig.engagement",
            "fig.per_post",
        ]
        .iter()
        .map(|k| t(lang, k))
        .collect();
        let body: Vec<Vec<Cell>> = cells
            .iter()
            .map(|c| {
                vec![
                    Cell::Text(t(lang, &format!("day.{}", c.weekday))),
                    Cell::Num(format!("{:02}:00", c.hour)),
                    Cell::Num(c.posts.to_string()),
                    Cell::Num(c.engagement.to_string()),
                    Cell::Num(opt(c.per_post)),
                ]
            })
            .collect();
        let _ = write!(
            s,
            "<details><summary>{}</summary>",
            escape(&t(lang, "figures"))
        );
        table(&mut s, "hours-table", &heads, &body);
        s.push_str("</details>");
    }
    s.push_str("</section>");

    // Clicks.
    section(&mut s, "clicks", lang, "sec.clicks");
    if r.clicks.is_empty() {
        none(&mut s, lang);
    } else {
        let heads: Vec<String> = ["fig.code", "fig.channel", "fig.category", "fig.clicks"]
            .iter()
            .map(|k| t(lang, k))
            .collect();
        let body: Vec<Vec<Cell>> = r
            .clicks
            .iter()
            .map(|c| {
                vec![
                    Cell::Text(c.code.clone()),
                    Cell::Text(c.channel.clone()),
                    Cell::Text(c.category.clone()),
                    Cell::Num(c.clicks.to_string()),
                ]
            })
            .collect();
        table(&mut s, "clicks-table", &heads, &body);
    }
    s.push_str("</section>");

    // Replies.
    section(&mut s, "replies", lang, "sec.replies");
    let rp = &r.replies;
    let heads = vec![t(lang, "figures"), t(lang, "fig.this_week")];
    let body = vec![
        vec![
            Cell::Text(t(lang, "fig.items")),
            Cell::Num(rp.items.to_string()),
        ],
        vec![
            Cell::Text(t(lang, "fig.answered")),
            Cell::Num(format!(
                "{} ({})",
                rp.answered,
                share(rp.answered, rp.items)
            )),
        ],
        vec![
            Cell::Text(t(lang, "fig.within_sla")),
            Cell::Num(format!(
                "{} ({})",
                rp.within_sla,
                share(rp.within_sla, rp.items)
            )),
        ],
        vec![
            Cell::Text(t(lang, "fig.overdue")),
            Cell::Num(rp.overdue.to_string()),
        ],
        vec![
            Cell::Text(t(lang, "fig.median_response")),
            Cell::Num(minutes(lang, rp.median_minutes)),
        ],
        vec![
            Cell::Text(t(lang, "fig.p90_response")),
            Cell::Num(minutes(lang, rp.p90_minutes)),
        ],
        vec![
            Cell::Text(t(lang, "fig.replies_sent")),
            Cell::Num(rp.sent.to_string()),
        ],
    ];
    table(&mut s, "replies-table", &heads, &body);
    let _ = write!(s, "<h3>{}</h3>", escape(&t(lang, "sec.people")));
    if rp.people.is_empty() {
        none(&mut s, lang);
    } else {
        let heads: Vec<String> = [
            "fig.person",
            "fig.approved",
            "fig.edited",
            "fig.rejected",
            "fig.replies_sent",
            "fig.median_response",
        ]
        .iter()
        .map(|k| t(lang, k))
        .collect();
        let body: Vec<Vec<Cell>> = rp
            .people
            .iter()
            .map(|p| {
                vec![
                    Cell::Text(p.name.clone()),
                    Cell::Num(p.approved.to_string()),
                    Cell::Num(p.edited.to_string()),
                    Cell::Num(p.rejected.to_string()),
                    Cell::Num(p.sent.to_string()),
                    Cell::Num(minutes(lang, p.median_minutes)),
                ]
            })
            .collect();
        table(&mut s, "people-table", &heads, &body);
    }
    s.push_str("</section>");

    // Leads.
    section(&mut s, "leads", lang, "sec.leads");
    let l = &r.leads;
    let funnel = chart::funnel(l, words);
    if funnel.is_empty() && l.by_grade.is_empty() && l.by_source.is_empty() {
        none(&mut s, lang);
    } else {
        s.push_str(&funnel);
        let heads = vec![t(lang, "chart.funnel"), t(lang, "fig.leads")];
        let body: Vec<Vec<Cell>> = [
            ("funnel.found", l.found),
            ("funnel.replied", l.replied),
            ("funnel.contact", l.contact),
            ("funnel.test_drive", l.test_drive),
        ]
        .iter()
        .map(|(k, v)| {
            vec![
                Cell::Text(t(lang, k)),
                Cell::Num(format!("{v} ({})", share(*v, l.found))),
            ]
        })
        .collect();
        table(&mut s, "funnel-table", &heads, &body);
        if !l.by_grade.is_empty() {
            let heads = vec![t(lang, "fig.grade"), t(lang, "fig.leads")];
            let body: Vec<Vec<Cell>> = l
                .by_grade
                .iter()
                .map(|(g, n)| {
                    let key = format!("grade.{g}");
                    let word = t(lang, &key);
                    let word = if word == key { g.clone() } else { word };
                    vec![Cell::Text(word), Cell::Num(n.to_string())]
                })
                .collect();
            table(&mut s, "grades-table", &heads, &body);
        }
        if !l.by_source.is_empty() {
            let heads = vec![t(lang, "fig.source"), t(lang, "fig.leads")];
            let body: Vec<Vec<Cell>> = l
                .by_source
                .iter()
                .map(|(src, n)| vec![Cell::Text(src.clone()), Cell::Num(n.to_string())])
                .collect();
            table(&mut s, "sources-table", &heads, &body);
        }
    }
    s.push_str("</section>");

    // Sentiment and share of voice.
    section(&mut s, "sentiment", lang, "sec.sentiment");
    if r.sentiment.iter().all(|d| d.mentions == 0) {
        none(&mut s, lang);
    } else {
        s.push_str(&chart::sentiment(&r.sentiment, words));
        let heads: Vec<String> = [
            "fig.date",
            "fig.mentions",
            "fig.negative",
            "fig.positive",
            "fig.negative_share",
        ]
        .iter()
        .map(|k| t(lang, k))
        .collect();
        let body: Vec<Vec<Cell>> = r
            .sentiment
            .iter()
            .map(|d| {
                let wd = chrono::Datelike::weekday(&d.date).num_days_from_monday();
                vec![
                    Cell::Text(format!(
                        "{} {}",
                        t(lang, &format!("day.{wd}")),
                        d.date.format("%m-%d")
                    )),
                    Cell::Num(d.mentions.to_string()),
                    Cell::Num(d.negative.to_string()),
                    Cell::Num(d.positive.to_string()),
                    Cell::Num(share(d.negative, d.mentions)),
                ]
            })
            .collect();
        table(&mut s, "sentiment-table", &heads, &body);
    }
    let _ = write!(s, "<h3>{}</h3>", escape(&t(lang, "sec.voice")));
    if r.share_of_voice.is_empty() {
        none(&mut s, lang);
    } else {
        let heads: Vec<String> = ["fig.name", "fig.mentions", "fig.share", "fig.negative"]
            .iter()
            .map(|k| t(lang, k))
            .collect();
        let body: Vec<Vec<Cell>> = r
            .share_of_voice
            .iter()
            .map(|v| {
                let name = if v.own {
                    format!("{} ({})", v.name, t(lang, "fig.own"))
                } else {
                    v.name.clone()
                };
                vec![
                    Cell::Text(name),
                    Cell::Num(v.mentions.to_string()),
                    Cell::Num(pct(Some(v.share))),
                    Cell::Num(v.negative.to_string()),
                ]
            })
            .collect();
        table(&mut s, "voice-table", &heads, &body);
    }
    s.push_str("</section>");

    // Crises.
    section(&mut s, "crises", lang, "sec.crises");
    if r.crises.is_empty() {
        none(&mut s, lang);
    } else {
        s.push_str(&chart::crises(
            &r.crises,
            r.week,
            &zone(r),
            r.generated_at,
            words,
        ));
        let heads: Vec<String> = [
            "fig.alert",
            "fig.level",
            "fig.opened",
            "fig.acked",
            "fig.resolved",
            "fig.peak_negative",
        ]
        .iter()
        .map(|k| t(lang, k))
        .collect();
        let body: Vec<Vec<Cell>> = r
            .crises
            .iter()
            .map(|c| {
                let key = format!("level.{}", c.level);
                let level = t(lang, &key);
                vec![
                    Cell::Text(c.id.clone()),
                    Cell::Text(if level == key { c.level.clone() } else { level }),
                    Cell::Num(local(r, c.opened_at)),
                    Cell::Num(c.acked_at.map_or("–".into(), |a| local(r, a))),
                    Cell::Num(
                        c.resolved_at
                            .map_or_else(|| t(lang, "fig.still_open"), |a| local(r, a)),
                    ),
                    Cell::Num(c.peak_negative.to_string()),
                ]
            })
            .collect();
        table(&mut s, "crises-table", &heads, &body);
    }
    s.push_str("</section></article>");
    s
}

/// The report as one self-contained HTML file (to save or e-mail): [`body`] with [`CSS`] in a
/// `<style>` block; it fetches nothing and runs no script.
pub fn document(r: &WeekReport, lang: Lang) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{tag}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {week} · herald</title><style>\nbody {{ margin: 1rem 1.2rem; background: #fff; }}\n{CSS}</style>\
         </head><body>{body}</body></html>\n",
        tag = lang.tag(),
        title = escape(&t(lang, "title")),
        week = r.week.format("%Y-%m-%d"),
        body = body(r, lang),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::*;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// A week with something in every part, and a channel named like an attack.
    pub(crate) fn sample() -> WeekReport {
        let weeks = (0..5)
            .map(|i| WeekFigures {
                week: d("2026-11-30") - TimeDelta::weeks(i),
                planned: 10 + i as u32,
                published: 9 + i as u32,
                engagement: 120 - 10 * i as u64,
                per_post: Some((120 - 10 * i) as f64 / (9 + i) as f64),
                clicks: 30,
                mentions: 40,
                negative_share: Some(0.2),
                replies_sent: 12,
                sla_met: Some(0.9),
                median_response_minutes: Some(18.0),
                leads: 3,
            })
            .collect();
        WeekReport {
            week: d("2026-11-30"),
            timezone: "Asia/Shanghai".into(),
            generated_at: at("2026-12-07T01:00:00Z"),
            weeks,
            categories: vec![
                CategoryRow {
                    category: "product".into(),
                    target_pct: 60,
                    planned: 6,
                    published: 6,
                    share_pct: 66.7,
                    engagement: 90,
                    per_post: Some(15.0),
                    lift: Some(0.5),
                    clicks: 20,
                },
                CategoryRow {
                    category: "community".into(),
                    target_pct: 40,
                    planned: 4,
                    published: 3,
                    share_pct: 33.3,
                    engagement: 30,
                    per_post: Some(10.0),
                    lift: Some(-0.33),
                    clicks: 10,
                },
            ],
            peaks: vec![SliceRow {
                name: "evening".into(),
                planned: 10,
                published: 9,
                engagement: 120,
                per_post: Some(13.3),
                clicks: 30,
            }],
            channels: vec![SliceRow {
                name: "<script>alert('x')</script>".into(),
                planned: 10,
                published: 9,
                engagement: 120,
                per_post: Some(13.3),
                clicks: 30,
            }],
            hours: vec![HourCell {
                weekday: 1,
                hour: 20,
                posts: 9,
                engagement: 120,
                per_post: Some(13.3),
            }],
            clicks: vec![ClickRow {
                code: "bsky-product-1".into(),
                channel: "bsky".into(),
                category: "product".into(),
                clicks: 20,
            }],
            replies: ReplyFigures {
                items: 14,
                answered: 13,
                within_sla: 12,
                overdue: 1,
                median_minutes: Some(18.0),
                p90_minutes: Some(150.0),
                sent: 12,
                people: vec![PersonRow {
                    name: "li.na".into(),
                    approved: 12,
                    edited: 3,
                    rejected: 1,
                    sent: 12,
                    median_minutes: Some(17.0),
                }],
            },
            leads: LeadFigures {
                by_grade: vec![("hot".into(), 1), ("warm".into(), 2)],
                by_source: vec![("mastodon".into(), 3)],
                found: 3,
                replied: 3,
                contact: 1,
                test_drive: 1,
            },
            sentiment: (0..7)
                .map(|i| DayRow {
                    date: d("2026-11-30") + TimeDelta::days(i),
                    mentions: 6,
                    negative: 1,
                    positive: 2,
                })
                .collect(),
            share_of_voice: vec![VoiceRow {
                name: "brand".into(),
                own: true,
                mentions: 40,
                share: 0.8,
                negative: 8,
            }],
            crises: vec![CrisisRow {
                id: "brand-20261201T0200".into(),
                level: "crisis".into(),
                opened_at: at("2026-12-01T02:00:00Z"),
                acked_at: Some(at("2026-12-01T02:30:00Z")),
                resolved_at: None,
                peak_negative: 14,
            }],
        }
    }

    /// The week with nothing recorded.
    pub(crate) fn empty() -> WeekReport {
        WeekReport {
            week: d("2026-11-30"),
            timezone: "Asia/Shanghai".into(),
            generated_at: at("2026-12-07T01:00:00Z"),
            weeks: (0..5)
                .map(|i| WeekFigures {
                    week: d("2026-11-30") - TimeDelta::weeks(i),
                    ..WeekFigures::default()
                })
                .collect(),
            categories: vec![],
            peaks: vec![],
            channels: vec![],
            hours: vec![],
            clicks: vec![],
            replies: ReplyFigures::default(),
            leads: LeadFigures::default(),
            sentiment: vec![],
            share_of_voice: vec![],
            crises: vec![],
        }
    }

    #[test]
    fn a_full_week_has_every_chart_and_table_and_escapes_names() {
        let html = body(&sample(), Lang::En);
        assert!(html.starts_with("<article class=\"report\" lang=\"en\">"));
        assert!(html.ends_with("</article>"));
        for class in [
            "trend",
            "categories",
            "heatmap",
            "sentiment",
            "crises",
            "funnel",
        ] {
            assert_eq!(
                html.matches(&format!("<svg class=\"report-chart {class}\""))
                    .count(),
                1,
                "{class}"
            );
        }
        for id in [
            "summary-table",
            "categories-table",
            "peaks-table",
            "channels-table",
            "hours-table",
            "clicks-table",
            "replies-table",
            "people-table",
            "funnel-table",
            "grades-table",
            "sources-table",
            "sentiment-table",
            "voice-table",
            "crises-table",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(!html.contains("<script"), "the channel name is escaped");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(
            !html.contains("style="),
            "no inline style: the web CSP forbids it"
        );
        assert!(!html.contains("NaN"));
        assert!(!html.contains("report-empty"));
        // Figures readable as text: this week's lift, the SLA share, a local time, p90 in hours.
        assert!(html.contains("<td class=\"num\">+50 %</td>"));
        assert!(html.contains("<td class=\"num\">12 (86 %)</td>"), "{html}");
        assert!(html.contains("2026-12-01 10:00"), "crisis opened, local");
        assert!(html.contains("2.5 h"));
        assert!(html.contains("still open"));
        assert!(html.contains("Weekly report · 2026-11-30 – 2026-12-06"));
        assert!(
            !html.contains("report-partial"),
            "made after the week's end"
        );
        // No key shows through untranslated.
        assert!(!html.contains("fig.") && !html.contains("sec.") && !html.contains("chart."));
    }

    #[test]
    fn both_languages_have_every_word() {
        let mut keys: Vec<&str> = STRINGS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate keys");
        for (k, en, zh) in STRINGS {
            assert!(!en.is_empty() && !zh.is_empty(), "{k}");
        }
        let zh = body(&sample(), Lang::Zh);
        assert!(zh.starts_with("<article class=\"report\" lang=\"zh-CN\">"));
        assert!(zh.contains("周报 · 2026-11-30"));
        assert!(zh.contains("本周与前四周对比") && zh.contains("危机时间线"));
        assert!(zh.contains("尚未解决") && zh.contains("高意向"));
        assert!(!zh.contains("Weekly report") && !zh.contains("still open"));
        assert!(!zh.contains("fig.") && !zh.contains("sec.") && !zh.contains("day."));
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(t(Lang::En, "no.such"), "no.such");
    }

    #[test]
    fn an_empty_week_says_so_and_draws_nothing_broken() {
        for lang in [Lang::En, Lang::Zh] {
            let html = body(&empty(), lang);
            assert!(html.contains("id=\"report-empty\""), "{html}");
            assert!(!html.contains("NaN") && !html.contains("inf"));
            // Only the trend is drawn (five empty weeks); every other part says "none".
            assert_eq!(html.matches("<svg").count(), 1);
            assert!(html.matches("class=\"empty\"").count() >= 8, "{html}");
        }
        // A record with no weeks at all (bad input) still renders.
        let mut r = empty();
        r.weeks.clear();
        r.timezone = "Not/AZone".into();
        let html = body(&r, Lang::En);
        assert!(html.contains("id=\"report-empty\"") && !html.contains("<svg"));
    }

    #[test]
    fn an_unfinished_week_says_so() {
        let mut r = sample();
        r.generated_at = at("2026-12-03T04:00:00Z");
        assert!(body(&r, Lang::En).contains("id=\"report-partial\""));
    }

    #[test]
    fn the_document_stands_alone() {
        let doc = document(&sample(), Lang::Zh);
        assert!(doc.starts_with("<!DOCTYPE html>\n<html lang=\"zh-CN\">"));
        assert!(doc.contains("<style>") && doc.contains(".report th"));
        assert!(doc.contains("<title>周报 · 2026-11-30 · herald</title>"));
        // Nothing fetched: no links, no sources, no URLs but the SVG namespace.
        assert!(!doc.contains("<link") && !doc.contains("src=") && !doc.contains("<script"));
        let urls = doc.matches("http").count();
        assert_eq!(urls, doc.matches("http://www.w3.org/2000/svg").count());
    }
}
