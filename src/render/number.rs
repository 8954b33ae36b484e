//! Numbers as people read them, for colour bars, labels and messages: three significant digits,
//! plain decimals for ordinary magnitudes and scientific notation only for very large or very
//! small ones (`2.54`, `0.0123`, `1234`, `3.1e-5`, `2.5e7`), never `2.5400e0`.

/// Magnitudes from `SMALL` up to `LARGE` print as plain decimals.
const SMALL: f64 = 1e-3;
const LARGE: f64 = 1e5;

/// `x` with three significant digits (integers up to `LARGE` keep all of theirs), trailing
/// zeros dropped; `NaN`, `inf` and `-inf` as such.
pub fn human(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs();
    if !(SMALL..LARGE).contains(&magnitude) {
        let text = format!("{x:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = (2 - magnitude.log10().floor() as i32).max(0) as usize;
    trim_zeros(&format!("{x:.decimals$}")).to_string()
}

/// `human` of a single-precision number.
pub fn human32(x: f32) -> String {
    human(f64::from(x))
}

/// "2.50" -> "2.5", "3.00" -> "3", "120" -> "120".
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_magnitudes_are_plain_decimals_with_three_significant_digits() {
        assert_eq!(human(2.54), "2.54");
        assert_eq!(human(2.5400), "2.54");
        assert_eq!(human(2.5), "2.5");
        assert_eq!(human(3.0), "3");
        assert_eq!(human(0.012345), "0.0123");
        assert_eq!(human(0.001), "0.001");
        assert_eq!(human(-0.5), "-0.5");
        assert_eq!(human(123.456), "123");
        assert_eq!(human(1234.6), "1235");
        assert_eq!(human(99999.0), "99999");
        assert_eq!(human(9.996), "10");
        assert_eq!(human(0.0), "0");
    }

    #[test]
    fn extremes_use_a_short_exponent() {
        assert_eq!(human(2.54e7), "2.54e7");
        assert_eq!(human(1e5), "1e5");
        assert_eq!(human(3.1e-5), "3.1e-5");
        assert_eq!(human(-4.0e-9), "-4e-9");
        assert_eq!(human(f64::NAN), "NaN");
        assert_eq!(human(f64::INFINITY), "inf");
        assert_eq!(human(f64::NEG_INFINITY), "-inf");
        assert_eq!(human32(1.5f32), "1.5");
    }
}
