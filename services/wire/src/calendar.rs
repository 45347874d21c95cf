//! Days on the UTC calendar, for the sales chart's days and the dates pages show: the service
//! and the browser count days the same way. Written here rather than pulling a date library
//! into the browser's bundle for two formats.

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// The day (counted from 1970-01-01, UTC) that Unix milliseconds `at_ms` fall on.
pub fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

/// (year, month 1–12, day 1–31) of a day counted from 1970-01-01: Howard Hinnant's
/// `civil_from_days`, exact for the proleptic Gregorian calendar.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// "2026-12-04": the day's ISO 8601 date, as MongoDB's `$dateToString` writes `%Y-%m-%d`.
pub fn iso_date(day: i64) -> String {
    let (year, month, day) = civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

/// "4 Dec 2026".
pub fn short_date(day: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) = civil_from_days(day);
    let month = MONTHS[(month as usize).saturating_sub(1).min(11)];
    format!("{day} {month} {year}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_counted_on_the_utc_calendar() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(day_of(-1), -1);
        assert_eq!(iso_date(day_of(-1)), "1969-12-31");
        // 2026-12-04T14:03:59.999Z
        assert_eq!(iso_date(day_of(1_796_393_039_999)), "2026-12-04");
        assert_eq!(short_date(day_of(1_796_393_039_999)), "4 Dec 2026");
        // Leap days and century rules.
        assert_eq!(iso_date(day_of(951_782_400_000)), "2000-02-29");
        assert_eq!(iso_date(day_of(4_107_542_400_000)), "2100-03-01");
    }
}
