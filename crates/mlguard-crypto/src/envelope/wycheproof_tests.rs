//! Wycheproof vectors for the AEAD primitive layer the envelope wraps
//! (`AeadKey::seal` / `AeadKey::open`). The envelope's token format adds a
//! header to the associated data and picks nonces itself, so the vectors are
//! run one layer below it, where key, nonce and associated data are free.

use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

use super::algorithm::Algorithm;
use super::key::AeadKey;

fn run(name: TestName, algorithm: Algorithm) -> usize {
    let set = TestSet::load(name).unwrap();
    let mut run = 0;
    for group in set.test_groups {
        // Our API: 32-byte keys, the algorithm's nonce length, 16-byte tags.
        if group.key_size != 256 || group.nonce_size != algorithm.nonce_len() * 8 || group.tag_size != 128 {
            continue;
        }
        for test in group.tests {
            let key = AeadKey::from_bytes("wycheproof", algorithm, &test.key).unwrap();
            let mut sealed = test.ct.to_vec();
            sealed.extend_from_slice(&test.tag);
            let opened = key.open(&test.nonce, &test.aad, &sealed);
            match test.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert_eq!(opened.as_deref(), Ok(&test.pt[..]), "tc {}", test.tc_id);
                    let resealed = key.seal(&test.nonce, &test.aad, &test.pt).unwrap();
                    assert_eq!(resealed, sealed, "tc {}", test.tc_id);
                }
                TestResult::Invalid => assert!(opened.is_err(), "tc {} accepted", test.tc_id),
            }
            run += 1;
        }
    }
    run
}

#[test]
fn xchacha20_poly1305_wycheproof() {
    assert!(run(TestName::XChaCha20Poly1305, Algorithm::XChaCha20Poly1305) > 50);
}

#[test]
fn aes_256_gcm_wycheproof() {
    assert!(run(TestName::AesGcm, Algorithm::Aes256Gcm) > 20);
}
