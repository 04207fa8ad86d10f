//! Business hours: whether an instant falls outside the playbook's working
//! days and hours, in the playbook's time zone.

use jiff::Timestamp;
use jiff::civil::Weekday;

use crate::playbook::BusinessHours;

/// Whether `t` is outside business hours: its local weekday (in
/// `bh.time_zone`) is not one of `bh.days`, or its local time is not in
/// `[start, end)` ([`BusinessHours::contains`]; a validated playbook has
/// `start < end`, so a window never crosses midnight).
pub fn outside_business_hours(t: Timestamp, bh: &BusinessHours) -> bool {
    !bh.contains(t)
}

/// `Sunday 2026-11-22 02:47 UTC`: the instant in the playbook's time zone.
pub fn local_label(t: Timestamp, bh: &BusinessHours) -> String {
    let local = t.to_zoned_datetime(bh.time_zone.clone());
    format!(
        "{} {}",
        local.strftime("%A %Y-%m-%d %H:%M"),
        crate::sanitize::text(&bh.time_zone_name)
    )
}

/// `Mon–Fri 08:00–18:00 UTC`: the business hours, for a title.
pub fn describe(bh: &BusinessHours) -> String {
    const ORDER: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let short = |d: Weekday| match d {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    };
    // Runs of consecutive days: Mon–Fri, or Mon, Wed.
    let present: Vec<bool> = ORDER.iter().map(|d| bh.days.contains(d)).collect();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < ORDER.len() {
        if !present[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < ORDER.len() && present[i + 1] {
            i += 1;
        }
        runs.push(if i - start >= 2 {
            format!("{}–{}", short(ORDER[start]), short(ORDER[i]))
        } else if i > start {
            format!("{}, {}", short(ORDER[start]), short(ORDER[i]))
        } else {
            short(ORDER[start]).to_owned()
        });
        i += 1;
    }
    let days = if runs.is_empty() {
        "no days".to_owned()
    } else {
        runs.join(", ")
    };
    format!(
        "{days} {}–{} {}",
        bh.start.strftime("%H:%M"),
        bh.end.strftime("%H:%M"),
        crate::sanitize::text(&bh.time_zone_name)
    )
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests parse fixed literals")]
mod tests {
    use super::*;
    use jiff::civil::{Time, time};
    use jiff::tz::TimeZone;

    fn hours(tz: &str, start: Time, end: Time) -> BusinessHours {
        BusinessHours {
            time_zone: TimeZone::get(tz).unwrap(),
            time_zone_name: tz.into(),
            days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            start,
            end,
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn weekdays_and_hours_in_utc() {
        let bh = hours("UTC", time(8, 0, 0, 0), time(18, 0, 0, 0));
        assert!(
            !outside_business_hours(ts("2026-11-24T14:23:47Z"), &bh),
            "Tuesday afternoon"
        );
        assert!(
            outside_business_hours(ts("2026-11-22T02:47:12Z"), &bh),
            "Sunday night"
        );
        assert!(
            outside_business_hours(ts("2026-11-26T01:12:41Z"), &bh),
            "Thursday 01:12"
        );
        assert!(
            !outside_business_hours(ts("2026-11-18T08:00:00Z"), &bh),
            "start is inside"
        );
        assert!(
            outside_business_hours(ts("2026-11-18T18:00:00Z"), &bh),
            "end is outside"
        );
        assert!(
            outside_business_hours(ts("2026-11-21T12:00:00Z"), &bh),
            "Saturday noon"
        );
    }

    #[test]
    fn the_time_zone_decides_the_local_day_and_hour() {
        let bh = hours("America/New_York", time(8, 0, 0, 0), time(18, 0, 0, 0));
        // 2026-11-24 02:00 UTC is Monday 21:00 in New York: outside.
        assert!(outside_business_hours(ts("2026-11-24T02:00:00Z"), &bh));
        // 2026-11-24 14:00 UTC is Tuesday 09:00 in New York: inside.
        assert!(!outside_business_hours(ts("2026-11-24T14:00:00Z"), &bh));
        // Saturday 2026-11-21 03:00 UTC is Friday 22:00 in New York: outside (late).
        assert!(outside_business_hours(ts("2026-11-21T03:00:00Z"), &bh));
        assert_eq!(
            local_label(ts("2026-11-24T14:00:00Z"), &bh),
            "Tuesday 2026-11-24 09:00 America/New_York"
        );
    }

    #[test]
    fn descriptions() {
        let bh = hours("UTC", time(8, 0, 0, 0), time(18, 0, 0, 0));
        assert_eq!(describe(&bh), "Mon–Fri 08:00–18:00 UTC");
        let mut odd = bh.clone();
        odd.days = vec![
            Weekday::Monday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Sunday,
        ];
        assert_eq!(describe(&odd), "Mon, Wed, Thu, Sun 08:00–18:00 UTC");
        assert_eq!(
            local_label(ts("2026-11-22T02:47:12Z"), &bh),
            "Sunday 2026-11-22 02:47 UTC"
        );
    }
}
