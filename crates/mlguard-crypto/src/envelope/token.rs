//! The envelope's text token: build and parse.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::algorithm::Algorithm;
use super::key::valid_key_id;

/// The only version this crate writes and reads.
pub(crate) const VERSION: &str = "v1";
/// Poly1305 and GCM tags are 16 bytes.
const TAG_LEN: usize = 16;

/// A token split into its parts. Nothing is authenticated yet.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) key_id: &'a str,
    pub(crate) nonce: Vec<u8>,
    pub(crate) sealed: Vec<u8>,
}

/// The authenticated header: `v1.<algorithm>.<key id>.` (self-delimiting,
/// because key ids cannot contain a dot).
pub(crate) fn header(algorithm: Algorithm, key_id: &str) -> String {
    format!("{VERSION}.{}.{key_id}.", algorithm.token_name())
}

/// Associated data given to the AEAD: the header, then the caller's data.
pub(crate) fn aad(header: &str, associated_data: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + associated_data.len());
    aad.extend_from_slice(header.as_bytes());
    aad.extend_from_slice(associated_data);
    aad
}

pub(crate) fn build(header: &str, nonce: &[u8], sealed: &[u8]) -> String {
    let mut token = String::with_capacity(header.len() + (nonce.len() + sealed.len()) * 4 / 3 + 4);
    token.push_str(header);
    URL_SAFE_NO_PAD.encode_string(nonce, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(sealed, &mut token);
    token
}

/// Split and decode a token strictly: exactly five parts, known version and
/// algorithm, a valid key id, canonical unpadded urlsafe base64, a nonce of
/// the algorithm's length and room for a tag.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, &'static str> {
    let mut parts = token.split('.');
    let (Some(version), Some(algorithm), Some(key_id), Some(nonce), Some(sealed), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err("token does not have five dot-separated parts");
    };
    if version != VERSION {
        return Err("unknown token version");
    }
    let algorithm = Algorithm::from_token_name(algorithm).ok_or("unknown algorithm")?;
    if !valid_key_id(key_id) {
        return Err("invalid key id");
    }
    let nonce = URL_SAFE_NO_PAD.decode(nonce).map_err(|_| "nonce is not base64")?;
    if nonce.len() != algorithm.nonce_len() {
        return Err("nonce has the wrong length");
    }
    let sealed = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| "ciphertext is not base64")?;
    if sealed.len() < TAG_LEN {
        return Err("ciphertext shorter than a tag");
    }
    Ok(Parsed {
        algorithm,
        key_id,
        nonce,
        sealed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_what_build_writes() {
        let header = header(Algorithm::Aes256Gcm, "k-1");
        let token = build(&header, &[1; 12], &[2; 20]);
        assert!(token.starts_with("v1.aes256gcm.k-1."));
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::Aes256Gcm);
        assert_eq!(parsed.key_id, "k-1");
        assert_eq!(parsed.nonce, vec![1; 12]);
        assert_eq!(parsed.sealed, vec![2; 20]);
    }

    #[test]
    fn parse_rejects_malformed_tokens() {
        let good = build(&header(Algorithm::XChaCha20Poly1305, "k"), &[1; 24], &[2; 16]);
        assert!(parse(&good).is_ok());
        for bad in [
            String::new(),
            good.replacen("v1", "v2", 1),
            good.replacen("xchacha20poly1305", "chacha20poly1305", 1),
            format!("{good}."),
            good.replacen(".k.", ".k!.", 1),
            good.replacen(".k.", "..", 1),
            // a 12-byte nonce for an algorithm that needs 24
            build(&header(Algorithm::XChaCha20Poly1305, "k"), &[1; 12], &[2; 16]),
            // too short for a tag
            build(&header(Algorithm::XChaCha20Poly1305, "k"), &[1; 24], &[2; 15]),
            format!("{good}="),
        ] {
            assert!(parse(&bad).is_err(), "accepted {bad:?}");
        }
    }
}
