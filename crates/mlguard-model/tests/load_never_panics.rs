//! Property tests: loading any bytes never panics; a damaged file never loads as another model.

mod common;

use common::*;
use mlguard_model::Model;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Model::from_bytes(&bytes, None);
        let _ = Model::from_bytes(&bytes, Some(&key_a()));
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut bytes = b"{\"format\":\"mlguard-model\",\"version\":1,".to_vec();
        bytes.extend_from_slice(&tail);
        let _ = Model::from_bytes(&bytes, None);
    }

    #[test]
    fn damaged_file_fails_or_is_the_same_model(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let original = small_model();
        let mut bytes = original.to_bytes(Some(&key_a())).unwrap();
        for (i, x) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x | 1;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        for key in [None, Some(key_a())] {
            if let Ok(m) = Model::from_bytes(&bytes, key.as_ref()) {
                prop_assert_eq!(&m, original);
            }
        }
    }
}
