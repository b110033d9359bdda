//! Revenue amounts: exact decimal parsing into millionths, and the `{currency, amount}` object.

use hitkeep_protocol::Revenue;
use serde_json::Value;

use crate::RequestError;

const INVALID_REVENUE: RequestError = RequestError::InvalidField {
    field: "revenue",
    reason: "must be {\"currency\": \"EUR\", \"amount\": 12.34} with a decimal amount",
};
const MICROS_PER_UNIT: i64 = 1_000_000;
const FRACTION_DIGITS: usize = 6;

/// Reads the revenue field: an object, the same object encoded as a JSON string (as some
/// trackers send it), or `null`.
pub(crate) fn parse_revenue(value: Value) -> Result<Option<Revenue>, RequestError> {
    let object = match value {
        Value::Null => return Ok(None),
        Value::Object(object) => object,
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(object)) => object,
            Ok(Value::Null) => return Ok(None),
            _ => return Err(INVALID_REVENUE),
        },
        _ => return Err(INVALID_REVENUE),
    };
    let currency = match object.get("currency") {
        Some(Value::String(code)) => parse_currency(code).ok_or(RequestError::InvalidField {
            field: "revenue",
            reason: "currency must be a three-letter ISO 4217 code",
        })?,
        _ => return Err(INVALID_REVENUE),
    };
    let amount_micros = match object.get("amount") {
        Some(Value::String(text)) => parse_amount(text),
        Some(Value::Number(number)) => number_to_micros(number),
        _ => None,
    }
    .ok_or(INVALID_REVENUE)?;
    Ok(Some(Revenue { amount_micros, currency }))
}

fn parse_currency(code: &str) -> Option<String> {
    let code = code.trim();
    (code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic())).then(|| code.to_ascii_uppercase())
}

fn number_to_micros(number: &serde_json::Number) -> Option<i64> {
    if let Some(integer) = number.as_i64() {
        return integer.checked_mul(MICROS_PER_UNIT);
    }
    // serde_json holds other numbers as f64. Rust prints an f64 as the shortest decimal that
    // reads back as the same f64, which is the decimal the client wrote whenever it had at
    // most 15 significant digits (`12.34` prints as `12.34`, not `12.339999...`), and never in
    // exponent form. Parsing that text keeps amounts exact without arbitrary-precision JSON.
    let float = number.as_f64()?;
    if !float.is_finite() {
        return None;
    }
    parse_amount(&float.to_string())
}

/// Parses a plain decimal (`12.34`, `-0.5`, `+7`, `.25`) into millionths of a unit, exactly.
///
/// Digits past the sixth decimal are rounded half away from zero. Exponents, thousands
/// separators and amounts beyond `i64` micros are refused.
pub(crate) fn parse_amount(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut micros: i64 = 0;
    for digit in whole.bytes() {
        micros = micros.checked_mul(10)?.checked_add(i64::from(digit - b'0'))?;
    }
    micros = micros.checked_mul(MICROS_PER_UNIT)?;
    let mut scale = MICROS_PER_UNIT / 10;
    for digit in fraction.bytes().take(FRACTION_DIGITS) {
        micros = micros.checked_add(i64::from(digit - b'0') * scale)?;
        scale /= 10;
    }
    if fraction.as_bytes().get(FRACTION_DIGITS).is_some_and(|digit| *digit >= b'5') {
        micros = micros.checked_add(1)?;
    }
    Some(if negative { -micros } else { micros })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimal_strings_are_exact() {
        assert_eq!(parse_amount("12.34"), Some(12_340_000));
        assert_eq!(parse_amount(" 0.1 "), Some(100_000));
        assert_eq!(parse_amount("100"), Some(100_000_000));
        assert_eq!(parse_amount("-5.5"), Some(-5_500_000));
        assert_eq!(parse_amount("+7"), Some(7_000_000));
        assert_eq!(parse_amount(".25"), Some(250_000));
        assert_eq!(parse_amount("3."), Some(3_000_000));
        assert_eq!(parse_amount("0.000001"), Some(1));
        assert_eq!(parse_amount("0.0000005"), Some(1), "half rounds away from zero");
        assert_eq!(parse_amount("0.0000004999"), Some(0));
        assert_eq!(parse_amount("-0.0000005"), Some(-1));
        assert_eq!(parse_amount("9223372036854.775807"), Some(i64::MAX));
        assert_eq!(parse_amount("9223372036854.775808"), None, "overflow");
        assert_eq!(parse_amount("99999999999999999999"), None);
        for bad in ["", "-", ".", "1e3", "1,5", "12.3.4", "abc", "1 000", "--1", "0x10"] {
            assert_eq!(parse_amount(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_numbers_are_exact_for_what_people_write() {
        let micros = |value: Value| parse_revenue(json!({"currency": "eur", "amount": value})).unwrap();
        for (value, expected) in [
            (json!(12.34), 12_340_000),
            (json!(0.1), 100_000),
            (json!(19.99), 19_990_000),
            (json!(1234567.89), 1_234_567_890_000),
            (json!(42), 42_000_000),
            (json!(-3), -3_000_000),
            (json!(1e3), 1_000_000_000),
            (json!("12.34"), 12_340_000),
        ] {
            let revenue = micros(value.clone()).unwrap();
            assert_eq!(revenue.amount_micros, expected, "{value}");
            assert_eq!(revenue.currency, "EUR");
        }
    }

    #[test]
    fn revenue_shapes() {
        assert_eq!(parse_revenue(Value::Null), Ok(None));
        assert_eq!(parse_revenue(json!("")), Ok(None));
        let encoded = parse_revenue(json!(r#"{"currency":"USD","amount":"9.99"}"#)).unwrap().unwrap();
        assert_eq!((encoded.amount_micros, encoded.currency.as_str()), (9_990_000, "USD"));
        for bad in [
            json!({"currency": "EURO", "amount": 1}),
            json!({"currency": "E1R", "amount": 1}),
            json!({"amount": 1}),
            json!({"currency": "EUR"}),
            json!({"currency": "EUR", "amount": true}),
            json!({"currency": "EUR", "amount": "1e3"}),
            json!({"currency": "EUR", "amount": 1e300}),
            json!([1, 2]),
            json!(12),
            json!("not json"),
            json!("\"nested\""),
        ] {
            let error = parse_revenue(bad.clone()).unwrap_err();
            assert_eq!(error.field(), Some("revenue"), "{bad}");
        }
    }
}
