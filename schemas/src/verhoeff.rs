//! The Verhoeff check-digit scheme used by Aadhaar numbers (Verhoeff 1969; UIDAI uses it for the
//! twelfth digit).
//!
//! The scheme is the dihedral group D5 (`MULTIPLY`), one permutation `σ` of the digits, and its
//! powers: position `i` (from the right) is permuted by `σ^(i mod 8)`. Only `σ` itself is
//! written down; every other row is derived from it at compile time, so no row of the table can
//! be mistyped (one once was, and about 40% of real numbers were refused).

/// The multiplication table of the dihedral group D5.
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

/// Verhoeff's permutation σ = (1 5 8 9 4 2 7 0)(3 6), as a table: digit `d` goes to `SIGMA[d]`.
const SIGMA: [u8; 10] = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4];

/// Row `k` is σ applied `k` times (σ has order 8, so eight rows cover every position).
const PERMUTE: [[u8; 10]; 8] = {
    let mut rows = [[0u8; 10]; 8];
    let mut digit = 0u8;
    while digit < 10 {
        rows[0][digit as usize] = digit;
        digit += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut digit = 0;
        while digit < 10 {
            rows[k][digit] = SIGMA[rows[k - 1][digit] as usize];
            digit += 1;
        }
        k += 1;
    }
    rows
};

/// The inverse of each element of D5.
const INVERSE: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

const _: () = {
    // σ^8 is the identity: the cycle above has length 8 and the swap length 2.
    let mut digit = 0u8;
    while digit < 10 {
        let at = digit as usize;
        assert!(SIGMA[PERMUTE[7][at] as usize] == digit);
        // INVERSE[j] really is j's inverse in D5.
        assert!(MULTIPLY[at][INVERSE[at] as usize] == 0);
        digit += 1;
    }
};

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

    /// The permutation table as published (Verhoeff 1969; Gallian, "Error detection methods",
    /// ACM Computing Surveys 28(3), 1996; Wikipedia's "Verhoeff algorithm"): typed from the
    /// literature, not computed here.
    const PUBLISHED_PERMUTE: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];

    #[test]
    fn every_row_is_row_one_applied_k_times() {
        assert_eq!(PERMUTE, PUBLISHED_PERMUTE);
        for k in 1..8 {
            for digit in 0..10 {
                let once_more = PUBLISHED_PERMUTE[1][usize::from(PUBLISHED_PERMUTE[k - 1][digit])];
                assert_eq!(PUBLISHED_PERMUTE[k][digit], once_more, "row {k}, digit {digit}");
            }
        }
    }

    #[test]
    fn published_vectors() {
        // Wikipedia's worked examples: 236 -> 3 and 12345 -> 1; 142857 -> 0.
        assert_eq!(check_digit("236"), Some(3));
        assert!(is_valid("2363"));
        assert!(!is_valid("2364"));
        assert_eq!(check_digit("12345"), Some(1));
        assert!(is_valid("123451"));
        assert_eq!(check_digit("142857"), Some(0));
        assert!(is_valid("1428570"));
        // UIDAI's test Aadhaar numbers (its authentication and e-KYC developer documents).
        assert!(is_valid("499118665246"));
        assert!(is_valid("999999990019"));
        assert_eq!(check_digit("49911866524"), Some(6));
        assert_eq!(check_digit("99999999001"), Some(9));
        // Numbers that only the mistyped row 4 accepted, and ones it refused.
        assert!(!is_valid("234567890127"));
        assert_eq!(check_digit("23456789012"), Some(4));
    }

    #[test]
    fn every_single_digit_error_and_adjacent_swap_is_caught() {
        for base in ["23456789012", "49911866524", "99999999001", "10000000000"] {
            let good = format!("{base}{}", check_digit(base).expect("digits"));
            assert!(is_valid(&good));
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

    #[test]
    fn appending_the_check_digit_always_validates() {
        // Every 5-digit prefix: the check digit makes a valid number, and exactly one does.
        for n in 0..100_000u32 {
            let text = format!("{n:05}");
            let digit = check_digit(&text).expect("digits");
            let valid: Vec<u8> = (0..10).filter(|d| is_valid(&format!("{text}{d}"))).collect();
            assert_eq!(valid, vec![digit], "{text}");
        }
    }
}
