//! The words a ЦУР duty officer reads: topics, alert states, severities and delivery outcomes in
//! Russian, times in the region's clock, numbers with a decimal comma.

use chrono::{DateTime, FixedOffset, Offset, Utc};
use otklik_model::{AlertSeverity, AlertState, DeliveryOutcome, Topic};

/// The topic's name as the taxonomy gives it (DESIGN.md); an unknown id is shown as it is.
pub fn topic(id: &str) -> String {
    match id.parse::<Topic>() {
        Ok(topic) => topic_name(topic).to_owned(),
        Err(_) if id.is_empty() => "без темы".to_owned(),
        Err(_) => id.to_owned(),
    }
}

fn topic_name(topic: Topic) -> &'static str {
    match topic {
        Topic::Heating => "отопление",
        Topic::HotWater => "горячая вода",
        Topic::ColdWater => "холодная вода",
        Topic::Sewerage => "канализация",
        Topic::Electricity => "электроснабжение",
        Topic::Gas => "газоснабжение",
        Topic::Lifts => "лифты",
        Topic::BuildingMaintenance => "содержание домов",
        Topic::UtilityBilling => "начисления ЖКУ",
        Topic::ManagementCompany => "работа УК и ТСЖ",
        Topic::CourtyardCleaning => "уборка дворов",
        Topic::Garbage => "вывоз мусора",
        Topic::SnowIce => "снег и наледь",
        Topic::Roads => "дороги и тротуары",
        Topic::StreetLighting => "уличное освещение",
        Topic::Landscaping => "благоустройство",
        Topic::Trees => "деревья",
        Topic::StrayAnimals => "бездомные животные",
        Topic::PublicTransport => "общественный транспорт",
        Topic::Healthcare => "здравоохранение",
        Topic::Education => "школы и детсады",
        Topic::SocialSupport => "соцзащита",
        Topic::Ecology => "экология",
        Topic::Construction => "строительство и аварийное жильё",
        Topic::Communications => "связь и интернет",
        Topic::PublicSafety => "безопасность и ЧС",
        Topic::Trade => "торговля",
        Topic::CultureSport => "культура и спорт",
        Topic::PublicServices => "госуслуги и администрации",
    }
}

pub fn state(state: AlertState) -> &'static str {
    match state {
        AlertState::Opened => "открыта",
        AlertState::Updated => "обновлена",
        AlertState::Reopened => "открыта снова",
        AlertState::Resolved => "закрыта",
    }
}

pub fn severity(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Low => "низкая",
        AlertSeverity::Medium => "средняя",
        AlertSeverity::High => "высокая",
    }
}

/// The test that fired, as a word; an unknown one as it is.
pub fn method(method: &str) -> &str {
    match method {
        "baseline" => "рост к базовой линии",
        "ears" => "резкий всплеск (EARS)",
        "cusum" => "накопленный рост (CUSUM)",
        "threshold" => "порог",
        "overdue" => "истёк срок ответа",
        other => other,
    }
}

pub fn outcome(outcome: DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Queued => "в очереди",
        DeliveryOutcome::Delivered => "доставлено",
        DeliveryOutcome::Retry => "повтор",
        DeliveryOutcome::Failed => "не доставлено",
        DeliveryOutcome::Disabled => "получатель отключён (410)",
        DeliveryOutcome::Silenced => "заглушено",
        DeliveryOutcome::Inhibited => "подавлено региональной тревогой",
    }
}

/// The region's clock (`[alert] utc_offset_hours`): how times are shown.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset: FixedOffset,
}

impl Clock {
    /// `hours` out of range falls back to UTC (config validation keeps it in -12..=14).
    pub fn new(hours: i64) -> Clock {
        let seconds = i32::try_from(hours * 3600).unwrap_or(0);
        Clock { offset: FixedOffset::east_opt(seconds).unwrap_or_else(|| Utc.fix()) }
    }

    /// «UTC+3».
    pub fn zone(&self) -> String {
        match self.offset.local_minus_utc() / 3600 {
            0 => "UTC".to_owned(),
            h => format!("UTC{h:+}"),
        }
    }

    /// «20.11 06:15».
    pub fn short(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset).format("%d.%m %H:%M").to_string()
    }

    /// «20.11.2026 06:15».
    pub fn long(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset).format("%d.%m.%Y %H:%M").to_string()
    }

    /// «06:15», or the short form when `t` is on another day than `day`.
    pub fn time_after(&self, day: DateTime<Utc>, t: DateTime<Utc>) -> String {
        if day.with_timezone(&self.offset).date_naive() == t.with_timezone(&self.offset).date_naive() {
            t.with_timezone(&self.offset).format("%H:%M").to_string()
        } else {
            self.short(t)
        }
    }
}

/// The Russian form for `n` of `forms` (one, few, many): «1 голос», «3 голоса», «11 голосов».
pub fn plural(n: u64, forms: [&'static str; 3]) -> &'static str {
    match (n % 100, n % 10) {
        (11..=14, _) => forms[2],
        (_, 1) => forms[0],
        (_, 2..=4) => forms[1],
        _ => forms[2],
    }
}

/// «0,1», «12»: one decimal, none when whole.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}").replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_topic_has_a_russian_name() {
        for topic in Topic::ALL {
            let name = super::topic(topic.id());
            assert!(name.chars().any(|c| ('а'..='я').contains(&c)), "{topic}: {name}");
        }
        assert_eq!(super::topic("nonsense"), "nonsense");
    }

    #[test]
    fn times_are_shown_in_the_regions_clock() {
        let clock = Clock::new(3);
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 22, 15, 0).unwrap();
        assert_eq!(clock.short(t), "21.11 01:15");
        assert_eq!(clock.zone(), "UTC+3");
        assert_eq!(Clock::new(0).zone(), "UTC");
        assert_eq!(number(0.0678), "0,1");
        assert_eq!(number(22.0), "22");
        let forms = ["голос", "голоса", "голосов"];
        let said: Vec<&str> = [1, 3, 5, 11, 21, 112].into_iter().map(|n| plural(n, forms)).collect();
        assert_eq!(said, ["голос", "голоса", "голосов", "голосов", "голос", "голосов"]);
    }
}
