//! JSON bodies as the service reads them, wherever they arrive (an HTTP body, a bulk row, an
//! inbox record).

use crate::AppError;
use wire::ErrorCode;

/// `bytes` as a `T`. JSON Schema (and so the OpenAPI document) counts `2.0` as the integer 2,
/// while serde refuses a float where it expects an integer: a body that serde refuses is read
/// again with every whole float spelled as an integer, so a client whose JSON library writes
/// `2.0` is not refused for it. The happy path parses once. Signatures are over the typed
/// event's canonical encoding, never the JSON text, so the spelling cannot change what is signed.
pub(crate) fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let first = match serde_json::from_slice(bytes) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let refused = || AppError::new(ErrorCode::InvalidJson, first.to_string());
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(refused());
    };
    if !whole_floats_as_integers(&mut value) {
        return Err(refused());
    }
    serde_json::from_value(value).map_err(|e| AppError::new(ErrorCode::InvalidJson, e.to_string()))
}

/// Rewrites every float with no fraction (and within an integer type's range) as an integer;
/// says whether it changed anything.
fn whole_floats_as_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() != 0.0 {
                return false;
            }
            // Spelled without its fraction and read back: exact, and out of every integer
            // type's range it reads as neither (no cast that could truncate).
            let digits = format!("{float:.0}");
            let integer = match (digits.parse::<i64>(), digits.parse::<u64>()) {
                (Ok(signed), _) => Value::from(signed),
                (_, Ok(unsigned)) => Value::from(unsigned),
                _ => return false,
            };
            *value = integer;
            true
        }
        Value::Array(items) => {
            items.iter_mut().fold(false, |changed, item| whole_floats_as_integers(item) | changed)
        }
        Value::Object(fields) => fields
            .values_mut()
            .fold(false, |changed, field| whole_floats_as_integers(field) | changed),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Counts {
        index: u32,
        at_ms: i64,
        ratio: f64,
    }

    #[test]
    fn whole_floats_read_as_integers_and_fractions_are_refused() {
        let read: Counts = json(br#"{"index": 2081.0, "at_ms": -7877484668957.0, "ratio": 2.0}"#)
            .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(read, Counts { index: 2081, at_ms: -7_877_484_668_957, ratio: 2.0 });
        let refused = json::<Counts>(br#"{"index": 2081.5, "at_ms": 1, "ratio": 2.0}"#);
        assert!(refused.is_err_and(|e| e.code == ErrorCode::InvalidJson));
        let beyond = json::<Counts>(br#"{"index": 4294967296.0, "at_ms": 1, "ratio": 2.0}"#);
        assert!(beyond.is_err_and(|e| e.code == ErrorCode::InvalidJson));
        // The first error is the one reported when nothing could be rewritten.
        let missing = json::<Counts>(br#"{"index": 1}"#).err().map(|e| e.message);
        assert!(missing.is_some_and(|m| m.contains("missing field")));
    }
}
