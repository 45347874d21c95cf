//! Money is integer cents (`i64`) everywhere: in documents, on the wire and in events. Only
//! a person types or reads decimals, and these two functions are where that happens.

/// "12.50" for 1250 cents; a currency sign is the page's business.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}.{:02}", cents % 100)
}

/// Reads an amount typed by a person ("12", "12.5", "1,299.99") as integer cents, without
/// ever going through floating point.
pub fn parse_money(text: &str) -> Result<i64, &'static str> {
    const HINT: &str = "must be an amount like 12.50";
    let text = text.trim().trim_start_matches('$').replace(',', "");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(HINT);
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return Err(HINT);
    }
    if fraction.len() > 2 {
        return Err("must have at most two decimals");
    }
    if whole.len() > 12 {
        return Err("is too large");
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| HINT)?
    };
    let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| HINT)?;
    Ok(whole * 100 + cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_amounts_become_exact_cents() {
        assert_eq!(parse_money("12"), Ok(1200));
        assert_eq!(parse_money("12.5"), Ok(1250));
        assert_eq!(parse_money(" $1,299.99 "), Ok(129_999));
        assert_eq!(parse_money(".05"), Ok(5));
        assert_eq!(parse_money("0.10"), Ok(10));
        for bad in [
            "",
            ".",
            "abc",
            "-5",
            "1.234",
            "1e3",
            "12.5.0",
            "9999999999999",
        ] {
            assert!(parse_money(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cents_are_shown_with_two_decimals_and_grouped_thousands() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(1250), "12.50");
        assert_eq!(format_cents(100_000_000), "1,000,000.00");
        assert_eq!(format_cents(-1999), "-19.99");
    }
}
