//! DATE and TIMESTAMP values: microseconds since 1970-01-01 00:00 UTC (a date is its midnight),
//! parsed from text as DuckDB's CAST reads it. Comparisons of dates and timestamps compare
//! these integers, which is what DuckDB does (a date compares as its midnight).

pub const US_PER_DAY: i64 = 86_400_000_000;

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn number(s: &str, min_len: usize, max_len: usize) -> Option<i64> {
    (s.len() >= min_len && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `YYYY-M-D` → days since the epoch; the rest of the text after it.
fn date_part(s: &str) -> Option<(i64, &str)> {
    let end = s.find(|c: char| c == ' ' || c == 'T').unwrap_or(s.len());
    let mut it = s[..end].split('-');
    let (y, m, d) = (number(it.next()?, 4, 6)?, number(it.next()?, 1, 2)?, number(it.next()?, 1, 2)?);
    if it.next().is_some() || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some((days_from_civil(y, m, d), &s[end..]))
}

/// `HH:MM[:SS[.fraction]]` → microseconds into the day (24:00:00 allowed, as DuckDB), then an
/// optional zone (`Z`, `±HH[:MM]`, ` NAME`), which DuckDB's TIMESTAMP ignores.
fn time_part(s: &str) -> Option<i64> {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.')).unwrap_or(s.len());
    let (clock, zone) = (&s[..end], &s[end..]);
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || (zone.starts_with(['+', '-']) && zone[1..].bytes().all(|b| b.is_ascii_digit() || b == b':') && zone.len() <= 6)
        || (zone.starts_with(' ') && zone[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b"_/+-".contains(&b)) && zone.len() > 1);
    if !zone_ok {
        return None;
    }
    let (hms, frac) = match clock.find('.') {
        Some(i) => (&clock[..i], Some(&clock[i + 1..])),
        None => (clock, None),
    };
    let mut it = hms.split(':');
    let h = number(it.next()?, 1, 2)?;
    let mi = number(it.next()?, 2, 2)?;
    let sec = match it.next() {
        Some(x) => number(x, 2, 2)?,
        None if frac.is_none() => 0,
        None => return None,
    };
    if it.next().is_some() || h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi, sec) != (0, 0)) {
        return None;
    }
    let us = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            // the first six digits (DuckDB truncates beyond microseconds)
            let six: String = f.chars().chain(std::iter::repeat('0')).take(6).collect();
            six.parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    if h == 24 && us != 0 {
        return None;
    }
    Some(((h * 60 + mi) * 60 + sec) * 1_000_000 + us)
}

/// CAST(s AS DATE): a date, optionally followed by a time (ignored); surrounding spaces allowed.
pub fn parse_date(s: &str) -> Option<i64> {
    let (days, rest) = date_part(s.trim_matches(' '))?;
    if !rest.is_empty() {
        time_part(&rest[1..])?;
    }
    days.checked_mul(US_PER_DAY)
}

/// CAST(s AS TIMESTAMP): a date, optionally `T` or space and a time.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let (days, rest) = date_part(s)?;
    let us = if rest.is_empty() { 0 } else { time_part(&rest[1..])? };
    days.checked_mul(US_PER_DAY)?.checked_add(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_duckdb_casts() {
        let day = |y, m, d| days_from_civil(y, m, d) * US_PER_DAY;
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(day(2026, 1, 2), 1_767_312_000_000_000);
        assert_eq!(parse_date("2026-1-2"), Some(day(2026, 1, 2)));
        assert_eq!(parse_date(" 2026-01-02 "), Some(day(2026, 1, 2)));
        assert_eq!(parse_date("2026-01-02 10:00"), Some(day(2026, 1, 2)));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("2024-02-29"), Some(day(2024, 2, 29)));
        assert_eq!(parse_date("20260102"), None);
        let h10 = 10 * 3_600_000_000;
        assert_eq!(parse_timestamp("2026-01-02T10:00:00Z"), Some(day(2026, 1, 2) + h10));
        assert_eq!(parse_timestamp("2026-01-02 10:00:00+02:30"), Some(day(2026, 1, 2) + h10));
        assert_eq!(parse_timestamp("2026-01-02 10:00:00.1234567"), Some(day(2026, 1, 2) + h10 + 123_456));
        assert_eq!(parse_timestamp("2026-01-02 10:00:00 UTC"), Some(day(2026, 1, 2) + h10));
        assert_eq!(parse_timestamp("2026-01-02 24:00:00"), Some(day(2026, 1, 3)));
        assert_eq!(parse_timestamp("2026-01-02 10:00:60"), None);
        assert_eq!(parse_timestamp("2026-01-02 25:00"), None);
        assert_eq!(parse_timestamp("2026-01-02 10"), None);
        assert_eq!(parse_timestamp(" 2026-01-02 "), None);
        assert_eq!(parse_timestamp("1969-12-31 23:59:59.999999"), Some(-1));
    }
}
