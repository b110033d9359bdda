//! What a report or an alert says: its numbers, read with the stats engine, and the message
//! written from them, as plain text and as HTML.
//!
//! The HTML is a single table-laid page with inline styles and no image, font or script:
//! it reads the same with images blocked, in a text-only client the plain part does. Every
//! value from the data (pages, sources, goal names, the domain) is escaped.

use std::fmt::Write as _;

use chrono::Days;
use chrono_tz::Tz;
use hitkeep_store::stats::{Dimension, DimensionValue, Metric, Query};
use hitkeep_store::{Alert, AlertKind, Frequency, OutboxMail, Site, Store};

use super::i18n::{Words, fill, words};
use super::schedule::Period;
pub(crate) use crate::routes::pages::escape;

/// Rows of each list.
pub const TOP: usize = 5;

/// The five headline numbers, in the order of [`Words::metrics`].
pub const METRICS: [Metric; 5] =
    [Metric::Visitors, Metric::Visits, Metric::Pageviews, Metric::BounceRate, Metric::VisitDuration];

/// What a report says.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportData {
    /// The site.
    pub domain: String,
    /// How often it is sent.
    pub frequency: Frequency,
    /// What it covers.
    pub period: Period,
    /// What it is compared with.
    pub previous: Period,
    /// The headline numbers of the period ([`METRICS`]).
    pub current: [Option<f64>; 5],
    /// The same for the previous period.
    pub before: [Option<f64>; 5],
    /// Pages by visitors.
    pub pages: Vec<(String, f64)>,
    /// Sources by visitors (`None`: direct).
    pub sources: Vec<(Option<String>, f64)>,
    /// Goals by visitors who completed them.
    pub goals: Vec<(String, f64)>,
}

/// A message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Its subject.
    pub subject: String,
    /// The plain text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Reads a report's numbers.
pub fn report_data(
    store: &Store,
    site: &Site,
    frequency: Frequency,
    period: Period,
) -> hitkeep_store::Result<ReportData> {
    let zone: Tz = site.timezone.parse().unwrap_or(Tz::UTC);
    let previous = period.previous(frequency);
    let totals = |period: Period| -> hitkeep_store::Result<[Option<f64>; 5]> {
        let (start, end) = period.utc_ms(zone);
        let result = store.query_stats(&Query::new(site.id, start, end, zone, METRICS.to_vec()))?;
        let row = result.rows.first().map(|row| row.metrics.clone()).unwrap_or_default();
        Ok(std::array::from_fn(|i| row.get(i).copied().flatten()))
    };
    let (start, end) = period.utc_ms(zone);
    let top = |dimension: Dimension| -> hitkeep_store::Result<Vec<(Option<String>, f64)>> {
        let mut query = Query::new(site.id, start, end, zone, vec![Metric::Visitors]);
        query.dimensions = vec![dimension];
        query.limit = TOP;
        Ok(store
            .query_stats(&query)?
            .rows
            .into_iter()
            .map(|row| {
                let name = match &row.dimensions[0] {
                    DimensionValue::Text(text) => text.clone(),
                    DimensionValue::Time(_) => None,
                };
                (name, row.metrics[0].unwrap_or(0.0))
            })
            .collect())
    };
    let goals = if store.goals(site.id)?.is_empty() {
        Vec::new()
    } else {
        top(Dimension::Goal)?
            .into_iter()
            .filter_map(|(name, n)| Some((name?, n)))
            .filter(|(_, n)| *n > 0.0)
            .collect()
    };
    Ok(ReportData {
        domain: site.domain.clone(),
        frequency,
        period,
        previous,
        current: totals(period)?,
        before: totals(previous)?,
        pages: top(Dimension::Page)?
            .into_iter()
            .map(|(name, n)| (name.unwrap_or_else(|| "/".into()), n))
            .collect(),
        sources: top(Dimension::Source)?,
        goals,
    })
}

/// Where a report's "Open the dashboard" goes: the period, compared with the one before.
pub fn dashboard_url(base: &str, domain: &str, period: Period) -> String {
    let last = period.end - Days::new(1);
    format!("{base}/sites/{domain}?period=custom&from={}&to={last}&compare=previous_period", period.start)
}

fn frequency_index(frequency: Frequency) -> usize {
    match frequency {
        Frequency::Daily => 0,
        Frequency::Weekly => 1,
        Frequency::Monthly => 2,
    }
}

fn metric_value(words: &Words, index: usize, value: Option<f64>) -> String {
    match (index, value) {
        (_, None) => "\u{2013}".into(),
        (3, Some(v)) => words.percent(v),
        (4, Some(v)) => words.duration(v),
        (_, Some(v)) => words.integer(v),
    }
}

/// The change against the previous period, in percent (percentage points for the bounce
/// rate); `None` when the previous period had nothing.
fn change(index: usize, now: Option<f64>, before: Option<f64>) -> Option<f64> {
    let (now, before) = (now?, before?);
    if index == 3 {
        return Some(now - before);
    }
    if before == 0.0 { None } else { Some((now - before) / before * 100.0) }
}

/// A report, in the recipient's language.
pub fn render_report(
    data: &ReportData,
    language: &str,
    email: &str,
    dashboard: &str,
    unsubscribe: &str,
) -> Rendered {
    let words = words(language);
    let title = words.titles[frequency_index(data.frequency)];
    let visitors = metric_value(words, 0, data.current[0]);
    let subject =
        fill(words.report_subject, &[("title", title), ("domain", &data.domain), ("visitors", &visitors)]);
    let range = words.range(data.period.start, data.period.end - Days::new(1));
    let previous_range = words.range(data.previous.start, data.previous.end - Days::new(1));
    let compared = fill(words.compared_with, &[("period", &previous_range)]);
    let footer = fill(words.footer, &[("email", email), ("domain", &data.domain)]);
    let empty = data.current[1].unwrap_or(0.0) == 0.0;
    let lists: Vec<(&str, Vec<(String, f64)>)> = [
        (words.lists[0], data.pages.clone()),
        (
            words.lists[1],
            data.sources
                .iter()
                .map(|(name, n)| (name.clone().unwrap_or_else(|| words.direct.into()), *n))
                .collect(),
        ),
        (words.lists[2], data.goals.clone()),
    ]
    .into_iter()
    .filter(|(_, rows)| !rows.is_empty())
    .collect();

    let mut text = format!("{title}: {}\n{range}\n\n", data.domain);
    if empty {
        let _ = writeln!(text, "{}\n", words.no_data);
    }
    for (index, name) in words.metrics.iter().enumerate() {
        let _ = write!(text, "{name}: {}", metric_value(words, index, data.current[index]));
        match change(index, data.current[index], data.before[index]) {
            Some(delta) => {
                let _ = writeln!(text, " ({})", words.change(delta));
            }
            None => text.push('\n'),
        }
    }
    let _ = writeln!(text, "({compared})");
    for (heading, rows) in &lists {
        let _ = writeln!(text, "\n{heading}");
        for (name, n) in rows {
            let _ = writeln!(text, "  {}  {name}", words.integer(*n));
        }
    }
    let _ = write!(
        text,
        "\n{}: {dashboard}\n\n-- \n{footer}\n{}: {unsubscribe}\n",
        words.open_dashboard, words.unsubscribe
    );

    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{subject}</title></head>\
         <body style=\"margin:0;padding:0;background:#f4f5f7;color:#1f2430;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f4f5f7\"><tr><td align=\"center\" style=\"padding:24px 12px\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:560px;background:#ffffff;border:1px solid #e3e5ea;border-radius:8px\">\
         <tr><td style=\"padding:24px 24px 8px\"><div style=\"font-size:13px;color:#5b6170\">{title}</div>\
         <h1 style=\"margin:4px 0 0;font-size:22px\">{domain}</h1><div style=\"font-size:14px;color:#5b6170;margin-top:4px\">{range}</div></td></tr>",
        lang = words.code,
        subject = escape(&subject),
        title = escape(title),
        domain = escape(&data.domain),
        range = escape(&range),
    );
    if empty {
        let _ = write!(
            html,
            "<tr><td style=\"padding:8px 24px;font-size:14px\">{}</td></tr>",
            escape(words.no_data)
        );
    }
    html.push_str("<tr><td style=\"padding:8px 24px\"><table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">");
    for (index, name) in words.metrics.iter().enumerate() {
        let delta = change(index, data.current[index], data.before[index]);
        // Up is good except for the bounce rate.
        let good = delta.map(|d| if index == 3 { d <= 0.0 } else { d >= 0.0 });
        let color = match good {
            Some(true) => "#1a7f37",
            Some(false) => "#b42318",
            None => "#5b6170",
        };
        let _ = write!(
            html,
            "<tr><td style=\"padding:6px 0;font-size:14px;color:#5b6170;border-bottom:1px solid #eef0f3\">{}</td>\
             <td align=\"right\" style=\"padding:6px 0;font-size:18px;font-weight:600;border-bottom:1px solid #eef0f3\">{}</td>\
             <td align=\"right\" style=\"padding:6px 0 6px 12px;font-size:13px;color:{color};border-bottom:1px solid #eef0f3;white-space:nowrap\">{}</td></tr>",
            escape(name),
            escape(&metric_value(words, index, data.current[index])),
            escape(&delta.map_or_else(|| words.no_comparison.to_owned(), |d| words.change(d))),
        );
    }
    let _ = write!(
        html,
        "</table><div style=\"font-size:12px;color:#5b6170;padding-top:6px\">{}</div></td></tr>",
        escape(&compared)
    );
    for (heading, rows) in &lists {
        let _ = write!(
            html,
            "<tr><td style=\"padding:16px 24px 4px\"><h2 style=\"margin:0 0 6px;font-size:15px\">{}</h2>\
             <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">",
            escape(heading)
        );
        for (name, n) in rows {
            let _ = write!(
                html,
                "<tr><td style=\"padding:4px 0;font-size:14px;word-break:break-all\">{}</td>\
                 <td align=\"right\" style=\"padding:4px 0 4px 12px;font-size:14px;font-weight:600\">{}</td></tr>",
                escape(name),
                escape(&words.integer(*n)),
            );
        }
        html.push_str("</table></td></tr>");
    }
    let _ = write!(
        html,
        "<tr><td style=\"padding:20px 24px 24px\"><a href=\"{dashboard}\" style=\"display:inline-block;background:#3b5bdb;color:#ffffff;text-decoration:none;padding:10px 16px;border-radius:6px;font-size:14px\">{open}</a></td></tr>\
         </table><p style=\"max-width:560px;font-size:12px;color:#5b6170;line-height:1.5\">{footer}<br><a href=\"{unsubscribe}\" style=\"color:#5b6170\">{unsub}</a></p>\
         </td></tr></table></body></html>",
        dashboard = escape(dashboard),
        open = escape(words.open_dashboard),
        footer = escape(&footer),
        unsubscribe = escape(unsubscribe),
        unsub = escape(words.unsubscribe),
    );
    Rendered { subject, text, html }
}

/// An alert, in the recipient's language.
pub fn render_alert(
    alert: &Alert,
    mail: &OutboxMail,
    site: &Site,
    dashboard: &str,
    unsubscribe: &str,
) -> Rendered {
    let words = words(&alert.language);
    let zone: Tz = site.timezone.parse().unwrap_or(Tz::UTC);
    let value = words.integer(mail.value.unwrap_or(0.0));
    let (subject, body) = match alert.kind {
        AlertKind::VisitorsAbove => {
            let threshold = words.integer(f64::from(alert.threshold));
            let values = [("domain", site.domain.as_str()), ("value", &value), ("threshold", &threshold)];
            (fill(words.above_subject, &values), fill(words.above_body, &values))
        }
        AlertKind::TrafficDrop => {
            let day = hitkeep_store::stats::utc_to_local(zone, mail.period_start_ms).date();
            let date = words.date(day);
            let baseline = mail.baseline.unwrap_or(0.0);
            let share = if baseline > 0.0 { mail.value.unwrap_or(0.0) / baseline * 100.0 } else { 0.0 };
            let percent = words.percent(share.round());
            let threshold = words.percent(f64::from(alert.threshold));
            let baseline = words.integer(baseline);
            let values = [
                ("domain", site.domain.as_str()),
                ("date", &date),
                ("value", &value),
                ("baseline", &baseline),
                ("percent", &percent),
                ("threshold", &threshold),
            ];
            (fill(words.drop_subject, &values), fill(words.drop_body, &values))
        }
    };
    let footer = fill(words.alert_footer, &[("email", &alert.email), ("domain", &site.domain)]);
    let text = format!(
        "{body}\n\n{}: {dashboard}\n\n-- \n{footer}\n{}: {unsubscribe}\n",
        words.open_dashboard, words.unsubscribe
    );
    let html = format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{subject}</title></head>\
         <body style=\"margin:0;padding:24px 12px;background:#f4f5f7;color:#1f2430;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif\">\
         <div style=\"max-width:560px;margin:0 auto;background:#ffffff;border:1px solid #e3e5ea;border-radius:8px;padding:24px\">\
         <h1 style=\"margin:0 0 12px;font-size:20px\">{subject}</h1><p style=\"font-size:15px;line-height:1.5\">{body}</p>\
         <p><a href=\"{dashboard}\" style=\"display:inline-block;background:#3b5bdb;color:#ffffff;text-decoration:none;padding:10px 16px;border-radius:6px;font-size:14px\">{open}</a></p></div>\
         <p style=\"max-width:560px;margin:12px auto;font-size:12px;color:#5b6170;line-height:1.5\">{footer}<br><a href=\"{unsubscribe}\" style=\"color:#5b6170\">{unsub}</a></p></body></html>",
        lang = words.code,
        subject = escape(&subject),
        body = escape(&body),
        dashboard = escape(dashboard),
        open = escape(words.open_dashboard),
        footer = escape(&footer),
        unsubscribe = escape(unsubscribe),
        unsub = escape(words.unsubscribe),
    );
    Rendered { subject, text, html }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn data() -> ReportData {
        let period = Period {
            start: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            end: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        };
        ReportData {
            domain: "shop.example".into(),
            frequency: Frequency::Weekly,
            period,
            previous: period.previous(Frequency::Weekly),
            current: [Some(1234.0), Some(1500.0), Some(4000.0), Some(40.0), Some(125.0)],
            before: [Some(1000.0), Some(1400.0), Some(0.0), Some(50.0), None],
            pages: vec![("/<script>alert(1)</script>".into(), 700.0)],
            sources: vec![(None, 600.0), (Some("Google".into()), 400.0)],
            goals: Vec::new(),
        }
    }

    #[test]
    fn a_report_has_its_numbers_changes_and_lists_in_both_parts_and_escapes_what_visitors_sent() {
        let rendered =
            render_report(&data(), "en", "ada@example.com", "http://x/sites/shop.example", "http://x/u/1");
        assert_eq!(rendered.subject, "Weekly report for shop.example: 1,234 visitors");
        for part in [&rendered.text, &rendered.html] {
            assert!(part.contains("30 November 2026 \u{2013} 6 December 2026"), "{part}");
            assert!(part.contains("1,234") && part.contains("+23.4%"), "{part}");
            assert!(part.contains("2m 05s") && part.contains("Direct / None"), "{part}");
            assert!(part.contains("http://x/u/1"));
        }
        assert!(rendered.text.contains("Bounce rate: 40% (\u{2212}10%)"), "{}", rendered.text);
        assert!(rendered.text.contains("/<script>alert(1)</script>"));
        assert!(!rendered.html.contains("<script>"));
        assert!(rendered.html.contains("/&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!rendered.html.contains("Goals"), "no goals, no list");
    }

    #[test]
    fn a_report_is_written_in_the_recipients_language() {
        let rendered = render_report(&data(), "de", "ada@example.com", "http://x", "http://x/u");
        assert_eq!(rendered.subject, "Wochenbericht für shop.example: 1.234 Besucher");
        assert!(rendered.text.contains("Absprungrate: 40 % (\u{2212}10 %)"), "{}", rendered.text);
        assert!(rendered.html.contains("lang=\"de\"") && rendered.html.contains("Abbestellen"));
    }

    #[test]
    fn the_dashboard_link_opens_the_period_compared() {
        let url = dashboard_url("https://stats.example", "shop.example", data().period);
        assert_eq!(
            url,
            "https://stats.example/sites/shop.example?period=custom&from=2026-11-30&to=2026-12-06&compare=previous_period"
        );
    }
}
