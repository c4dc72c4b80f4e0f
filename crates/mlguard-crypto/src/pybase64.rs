//! Base64 decoding exactly as Python's `base64.urlsafe_b64decode` does it.
//!
//! Python's `cryptography` decodes Fernet keys and tokens with
//! `base64.urlsafe_b64decode`, which maps `-`/`_` to `+`/`/` and then calls
//! `binascii.a2b_base64` in its non-strict mode. That mode:
//!
//! - accepts both alphabets (`-_` and `+/`), since the translation leaves
//!   `+` and `/` in place;
//! - skips every byte outside the alphabet (whitespace, `%`, `.`, ...);
//! - stops at the first complete padding group and ignores what follows
//!   (`QQ==QQ==` decodes to `A`), and ignores extra `=`;
//! - rejects input whose data characters do not end on a complete group
//!   ("Incorrect padding"): so **missing padding is an error**;
//! - does not check that the unused low bits of the last character are zero.
//!
//! A `str` with non-ASCII characters raises `ValueError` in Python; here it
//! is an error too. We match Python so that every token Python accepts is
//! accepted here and vice versa (the interop test checks this on mangled
//! tokens against the real `cryptography` package). The MAC covers the
//! decoded bytes, so this leniency cannot change what a token decrypts to;
//! it only means a token's *text* is not canonical. Never use token text as
//! an identifier (for example in a replay cache); use the decoded bytes.

/// Why a string did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64Error {
    NonAscii,
    IncorrectPadding,
}

impl Base64Error {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::NonAscii => "token is not ASCII",
            Self::IncorrectPadding => "base64 data does not end on a complete group",
        }
    }
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Decode like `base64.urlsafe_b64decode(input)` in CPython 3.
///
/// Fast path: canonical padded urlsafe base64 (everything Python and this
/// crate produce) goes through the `base64` crate; Python decodes such input
/// to the same bytes. Anything else takes the byte-by-byte emulation.
pub(crate) fn urlsafe_b64decode(input: &str) -> Result<Vec<u8>, Base64Error> {
    use base64::Engine as _;
    if let Ok(decoded) = base64::engine::general_purpose::URL_SAFE.decode(input) {
        return Ok(decoded);
    }
    python_decode(input)
}

/// `binascii.a2b_base64(input.translate(-_ -> +/), strict_mode=False)`.
fn python_decode(input: &str) -> Result<Vec<u8>, Base64Error> {
    if !input.is_ascii() {
        return Err(Base64Error::NonAscii);
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &byte in input.as_bytes() {
        if byte == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    // A complete padding group ends the data; the rest is ignored.
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(value) = sextet(byte) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                left = value;
                quad_pos = 1;
            }
            1 => {
                out.push((left << 2) | (value >> 4));
                left = value & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push((left << 4) | (value >> 2));
                left = value & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push((left << 6) | value);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    if quad_pos == 0 {
        Ok(out)
    } else {
        Err(Base64Error::IncorrectPadding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Result<Vec<u8>, Base64Error> {
        let fast = urlsafe_b64decode(s);
        // The emulation alone must agree with the fast path.
        assert_eq!(python_decode(s), fast, "{s:?}");
        fast
    }

    // Expected values are what CPython 3.11 prints for
    // `base64.urlsafe_b64decode(s)` (checked by hand on this machine).
    #[test]
    fn matches_cpython_on_edge_cases() {
        assert_eq!(dec("QQ==").unwrap(), b"A");
        assert_eq!(dec("QQ"), Err(Base64Error::IncorrectPadding));
        assert_eq!(dec("QQ="), Err(Base64Error::IncorrectPadding));
        assert_eq!(dec("QQ===").unwrap(), b"A");
        assert_eq!(dec("QQ==QQ==").unwrap(), b"A");
        assert_eq!(dec("Q"), Err(Base64Error::IncorrectPadding));
        assert_eq!(dec("QUJD").unwrap(), b"ABC");
        assert_eq!(dec("QUJD=").unwrap(), b"ABC");
        assert_eq!(dec("=QUJD").unwrap(), b"ABC");
        assert_eq!(dec("QU=JD").unwrap(), b"ABC");
        assert_eq!(dec("QUJDRA="), Err(Base64Error::IncorrectPadding));
        assert_eq!(dec("QUJDRA==").unwrap(), b"ABCD");
        assert_eq!(dec("QU JD\n").unwrap(), b"ABC");
        assert_eq!(dec("").unwrap(), b"");
        assert_eq!(dec("QUJ\u{e9}D"), Err(Base64Error::NonAscii));
    }

    #[test]
    fn both_alphabets_decode_to_the_same_bytes() {
        assert_eq!(dec("-_-_").unwrap(), vec![0xfb, 0xff, 0xbf]);
        assert_eq!(dec("+/+/").unwrap(), vec![0xfb, 0xff, 0xbf]);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn emulation_never_panics_and_agrees_with_fast_path(s in "[A-Za-z0-9_=+/ .%-]{0,64}|\\PC{0,32}") {
            let slow = python_decode(&s);
            if let Ok(fast) = URL_SAFE.decode(&s) {
                prop_assert_eq!(slow, Ok(fast));
            }
        }

        #[test]
        fn emulation_decodes_canonical_encodings(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(python_decode(&URL_SAFE.encode(&bytes)), Ok(bytes));
        }
    }
}
