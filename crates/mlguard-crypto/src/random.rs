//! Randomness from the operating system.

/// Fill `buf` from the operating system's CSPRNG.
///
/// # Panics
///
/// If the operating system cannot provide randomness. There is no safe way
/// to go on encrypting without it, and nothing a caller sends can cause it.
pub(crate) fn fill(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {err}");
    }
}

/// `N` random bytes.
pub(crate) fn array<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}
