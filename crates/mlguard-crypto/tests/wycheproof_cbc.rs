//! Wycheproof AES-CBC-PKCS5 vectors (128-bit keys: Fernet's cipher) run
//! through the public Fernet API: encryption must produce the vector's
//! ciphertext inside the token, and a correctly MACed token carrying an
//! invalid vector's ciphertext (bad padding) must be rejected.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, KeyInit, Mac};
use mlguard_crypto::Fernet;
use sha2::Sha256;
use wycheproof::TestResult;
use wycheproof::cipher::{TestName, TestSet};

const SIGNING_KEY: [u8; 16] = [0x5a; 16];

fn token_with(iv: &[u8], ciphertext: &[u8]) -> String {
    let mut body = vec![0x80];
    body.extend_from_slice(&0u64.to_be_bytes());
    body.extend_from_slice(iv);
    body.extend_from_slice(ciphertext);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&SIGNING_KEY).unwrap();
    mac.update(&body);
    body.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE.encode(body)
}

#[test]
fn aes_128_cbc_pkcs5_wycheproof_through_fernet() {
    let set = TestSet::load(TestName::AesCbcPkcs5).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in set.test_groups.into_iter().filter(|g| g.key_size == 128) {
        for test in group.tests {
            let mut key = SIGNING_KEY.to_vec();
            key.extend_from_slice(&test.key);
            let fernet = Fernet::from_bytes(&key).unwrap();
            let iv: [u8; 16] = test.nonce[..].try_into().unwrap();
            let token = token_with(&iv, &test.ct);
            match test.result {
                TestResult::Valid | TestResult::Acceptable => {
                    let ours = fernet.encrypt_at_time_with_iv_danger(&test.pt, 0, iv);
                    assert_eq!(ours, token, "tc {}", test.tc_id);
                    assert_eq!(fernet.decrypt(&token).unwrap(), &test.pt[..], "tc {}", test.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(fernet.decrypt(&token).is_err(), "tc {} accepted", test.tc_id);
                    invalid += 1;
                }
            }
        }
    }
    assert!(valid > 10 && invalid > 10, "valid {valid}, invalid {invalid}");
}
