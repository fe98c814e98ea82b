//! The Verhoeff check-digit scheme used by Aadhaar numbers.

const MULTIPLY: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

const PERMUTE: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 8, 7, 0, 6],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

const INVERSE: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

fn checksum(digits: impl DoubleEndedIterator<Item = u8>, offset: usize) -> u8 {
    digits.rev().enumerate().fold(0u8, |check, (position, digit)| {
        let permuted = PERMUTE[(position + offset) % 8][usize::from(digit)];
        MULTIPLY[usize::from(check)][usize::from(permuted)]
    })
}

fn digits_of(text: &str) -> Option<Vec<u8>> {
    text.bytes().map(|b| b.is_ascii_digit().then(|| b - b'0')).collect()
}

/// True when `text` is all digits and its last digit is the Verhoeff check digit of the rest.
pub fn is_valid(text: &str) -> bool {
    match digits_of(text) {
        Some(digits) if !digits.is_empty() => checksum(digits.into_iter(), 0) == 0,
        _ => false,
    }
}

/// The check digit to append to `text` (all digits), or `None` if it holds a non-digit.
pub fn check_digit(text: &str) -> Option<u8> {
    let digits = digits_of(text)?;
    Some(INVERSE[usize::from(checksum(digits.into_iter(), 1))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // The classic example from the literature: 236 -> check digit 3.
        assert_eq!(check_digit("236"), Some(3));
        assert!(is_valid("2363"));
        assert!(!is_valid("2364"));
        assert_eq!(check_digit("12345"), Some(1));
        assert!(is_valid("123451"));
        assert_eq!(check_digit("23456789012"), Some(7));
        assert!(is_valid("234567890127"));
    }

    #[test]
    fn every_single_digit_error_and_adjacent_swap_is_caught() {
        let base = "23456789012";
        let good = format!("{base}{}", check_digit(base).expect("digits"));
        let bytes = good.as_bytes();
        for index in 0..bytes.len() {
            for replacement in b'0'..=b'9' {
                if replacement == bytes[index] {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[index] = replacement;
                let changed = String::from_utf8(changed).expect("ascii");
                assert!(!is_valid(&changed), "{changed} passed");
            }
            if index + 1 < bytes.len() && bytes[index] != bytes[index + 1] {
                let mut swapped = bytes.to_vec();
                swapped.swap(index, index + 1);
                let swapped = String::from_utf8(swapped).expect("ascii");
                assert!(!is_valid(&swapped), "{swapped} passed");
            }
        }
    }
}
