//! A notification as a Telegram message for a duty officer, in Russian: where, what, how much
//! more than usual, how serious, the incidents to open, and the state. An overdue alert says
//! which organisation, how many of its complaints are unanswered past the deadline, and the
//! oldest one with its link and age.

use super::markdown::{shorten, Line, Span};
use chrono::{DateTime, FixedOffset, Offset, TimeDelta, Utc};
use otklik_model::{Alert, AlertOverdue, AlertSeverity, AlertState, Notification, NotificationKind, Topic};

/// Excerpts and names are cut to this many characters so that no entity is ever too long to fit.
const EXCERPT_CHARS: usize = 120;

/// The message's lines (see [`super::markdown::split`] for the messages).
pub fn render(notification: &Notification, utc_offset_hours: i32) -> Vec<Line> {
    let offset = FixedOffset::east_opt(utc_offset_hours * 3600).unwrap_or_else(|| Utc.fix());
    let mut lines = vec![
        Line(vec![
            Span::Text(format!("{} ", emoji(notification.kind))),
            Span::Bold(header(notification.kind, notification.alerts.iter().all(|a| a.overdue.is_some())).into()),
        ]),
        Line(vec![Span::Bold(shorten(&place(notification), EXCERPT_CHARS))]),
    ];
    for alert in &notification.alerts {
        lines.push(Line::default());
        alert_lines(alert, offset, utc_offset_hours, &mut lines);
    }
    lines.push(Line::default());
    let status = if notification.kind == NotificationKind::Resolved {
        "все тревоги группы сняты"
    } else {
        "тревога открыта"
    };
    lines.push(Line(vec![Span::Italic(format!("Статус: {status}"))]));
    lines
}

fn emoji(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Opened => "🚨",
        NotificationKind::Updated => "🔄",
        NotificationKind::Reminder => "⏰",
        NotificationKind::Resolved => "✅",
    }
}

fn header(kind: NotificationKind, overdue: bool) -> &'static str {
    match kind {
        _ if !overdue => spike_header(kind),
        NotificationKind::Opened => "Жалобы без ответа",
        NotificationKind::Updated => "Жалобы без ответа: обновление",
        NotificationKind::Reminder => "Напоминание: жалобы всё ещё без ответа",
        NotificationKind::Resolved => "Просроченных жалоб больше нет",
    }
}

fn spike_header(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Opened => "Всплеск жалоб",
        NotificationKind::Updated => "Всплеск жалоб: обновление",
        NotificationKind::Reminder => "Напоминание: всплеск жалоб продолжается",
        NotificationKind::Resolved => "Всплеск жалоб завершился",
    }
}

/// The group's place: the municipality, or the region for a regional group.
fn place(notification: &Notification) -> String {
    if let Some(topic) = notification.group_key.strip_prefix("region:") {
        let topic = topic.parse::<Topic>().map(topic_ru).unwrap_or(topic);
        return format!("Вся область · {topic}");
    }
    let named = notification.alerts.iter().map(|a| a.municipality_name.as_str()).find(|n| !n.is_empty());
    named.map(str::to_owned).unwrap_or_else(|| format!("ОКТМО {}", notification.group_key))
}

fn alert_lines(alert: &Alert, offset: FixedOffset, utc_offset_hours: i32, lines: &mut Vec<Line>) {
    let where_ = where_of(alert);
    if let Some(overdue) = &alert.overdue {
        return overdue_lines(alert, overdue, &where_, lines);
    }
    lines.push(Line(vec![
        Span::Text("▪ ".into()),
        Span::Bold(capitalised(topic_ru(alert.topic))),
        Span::Text(format!(" · {where_} · {}, важность: {}", state_ru(alert.state), severity_ru(alert.severity))),
    ]));
    let window = window(alert.window_start, alert.window_end, offset, utc_offset_hours);
    let expected = format!("{:.1}", alert.expected).replace('.', ",");
    lines.push(Line(vec![Span::Text(format!(
        "Наблюдается {} {} при норме {expected} за {window}",
        alert.observed,
        plural(alert.observed, ["голос", "голоса", "голосов"])
    ))]));
    lines.push(Line(vec![Span::Text(format!("Инцидентов: {}, голосов: {}", alert.incidents, alert.voices))]));
    if let Some(note) = &alert.expected_note {
        lines.push(Line(vec![Span::Italic(format!("Ожидаемо по календарю: {}", shorten(note, EXCERPT_CHARS)))]));
    }
    if !alert.top_incidents.is_empty() {
        lines.push(Line(vec![Span::Text("Главные инциденты:".into())]));
    }
    for (i, incident) in alert.top_incidents.iter().enumerate() {
        let excerpt = shorten(incident.excerpt.trim(), EXCERPT_CHARS);
        let excerpt = if excerpt.is_empty() { incident.uid.to_string() } else { excerpt };
        let voices = format!(" — {} {}", incident.voices, plural(incident.voices, ["голос", "голоса", "голосов"]));
        let link = if is_web_url(&incident.url) {
            Span::Link { text: excerpt, url: incident.url.clone() }
        } else {
            Span::Text(excerpt)
        };
        lines.push(Line(vec![Span::Text(format!("{}. ", i + 1)), link, Span::Text(voices)]));
    }
}

fn where_of(alert: &Alert) -> String {
    match (&alert.municipality, alert.municipality_name.is_empty()) {
        (None, _) => "вся область".to_owned(),
        (Some(code), true) => format!("ОКТМО {code}"),
        (Some(_), false) => shorten(&alert.municipality_name, EXCERPT_CHARS),
    }
}

/// Which organisation, how many complaints past which deadline, the oldest one and its age.
fn overdue_lines(alert: &Alert, overdue: &AlertOverdue, where_: &str, lines: &mut Vec<Line>) {
    lines.push(Line(vec![
        Span::Text("▪ ".into()),
        Span::Bold(shorten(&overdue.organisation_name, EXCERPT_CHARS)),
        Span::Text(format!(" · {where_} · нет ответа жителям, {}", state_ru(alert.state))),
    ]));
    if alert.state == AlertState::Resolved {
        lines.push(Line(vec![Span::Text("Жалоб без ответа дольше срока не осталось".into())]));
        return;
    }
    let deadline = age(TimeDelta::seconds(i64::try_from(overdue.deadline_secs).unwrap_or(i64::MAX)));
    let n = overdue.complaints;
    let complaints = plural(n, ["жалоба", "жалобы", "жалоб"]);
    lines.push(Line(vec![Span::Text(format!("Без ответа дольше срока ({deadline}): {n} {complaints}"))]));
    let text = shorten(&overdue.oldest_uid, EXCERPT_CHARS);
    let link = if is_web_url(&overdue.oldest_url) {
        Span::Link { text, url: overdue.oldest_url.clone() }
    } else {
        Span::Text(text)
    };
    let waiting = age(alert.raised_at - overdue.oldest_at);
    lines.push(Line(vec![Span::Text("Самая давняя: ".into()), link, Span::Text(format!(" — ждёт ответа {waiting}"))]));
}

/// `2 ч`, `1 д 5 ч`, `45 мин`.
fn age(d: TimeDelta) -> String {
    let minutes = d.num_minutes().max(0);
    match (minutes / 1440, minutes / 60 % 24) {
        (0, 0) => format!("{} мин", minutes % 60),
        (0, hours) => format!("{hours} ч"),
        (days, 0) => format!("{days} д"),
        (days, hours) => format!("{days} д {hours} ч"),
    }
}

/// Telegram refuses a message whose inline link is not a URL it accepts.
fn is_web_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

fn window(start: DateTime<Utc>, end: DateTime<Utc>, offset: FixedOffset, utc_offset_hours: i32) -> String {
    let (start, end) = (start.with_timezone(&offset), end.with_timezone(&offset));
    let zone = if utc_offset_hours >= 0 { format!("UTC+{utc_offset_hours}") } else { format!("UTC{utc_offset_hours}") };
    if start.date_naive() == end.date_naive() {
        format!("{}–{} {zone}", start.format("%d.%m %H:%M"), end.format("%H:%M"))
    } else {
        format!("{} – {} {zone}", start.format("%d.%m %H:%M"), end.format("%d.%m %H:%M"))
    }
}

/// 1 голос, 2 голоса, 5 голосов.
fn plural(n: u64, forms: [&'static str; 3]) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=14) => forms[2],
        (1, _) => forms[0],
        (2..=4, _) => forms[1],
        _ => forms[2],
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn state_ru(state: AlertState) -> &'static str {
    match state {
        AlertState::Opened => "открыта",
        AlertState::Updated => "обновлена",
        AlertState::Reopened => "открыта снова",
        AlertState::Resolved => "снята",
    }
}

fn severity_ru(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Low => "низкая",
        AlertSeverity::Medium => "средняя",
        AlertSeverity::High => "высокая",
    }
}

/// The taxonomy's topics as a duty officer names them.
pub fn topic_ru(topic: Topic) -> &'static str {
    use Topic::*;
    match topic {
        Heating => "отопление",
        HotWater => "горячая вода",
        ColdWater => "холодная вода",
        Sewerage => "канализация",
        Electricity => "электроснабжение",
        Gas => "газоснабжение",
        Lifts => "лифты",
        BuildingMaintenance => "содержание домов",
        UtilityBilling => "начисления за ЖКУ",
        ManagementCompany => "управляющие компании",
        CourtyardCleaning => "уборка дворов",
        Garbage => "вывоз мусора",
        SnowIce => "снег и наледь",
        Roads => "дороги",
        StreetLighting => "уличное освещение",
        Landscaping => "благоустройство",
        Trees => "деревья",
        StrayAnimals => "безнадзорные животные",
        PublicTransport => "общественный транспорт",
        Healthcare => "здравоохранение",
        Education => "образование",
        SocialSupport => "соцзащита",
        Ecology => "экология",
        Construction => "строительство",
        Communications => "связь",
        PublicSafety => "безопасность",
        Trade => "торговля",
        CultureSport => "культура и спорт",
        PublicServices => "госуслуги и МФЦ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_plurals() {
        let forms = ["голос", "голоса", "голосов"];
        let shown: Vec<&str> = [1, 2, 5, 11, 12, 21, 22, 25, 111].map(|n| plural(n, forms)).to_vec();
        assert_eq!(
            shown,
            ["голос", "голоса", "голосов", "голосов", "голосов", "голос", "голоса", "голосов", "голосов"]
        );
        assert_eq!(capitalised("отопление"), "Отопление");
    }
}
