//! The principals of API keys, built once per key and shared by its requests.
//!
//! A key's principal depends only on four fields of its record: the name (the subject), the
//! roles, the key id (`AuthMethod::ApiKey`) and the expiry. The cache keeps those fields
//! beside each principal and hands the principal out only while the record presented with the
//! request still has the same four, so a renamed key, changed roles or a new expiry take
//! effect on the next request, as without the cache. It only saves building the principal:
//! the secret, revocation and expiry are checked against the store's record on every request,
//! before the cache is asked.

use super::key::ApiKeyRecord;
use mlguard_core::{AuthMethod, Principal};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, UNIX_EPOCH};

/// Keys whose principals are kept; when full the cache is emptied and refills (only keys that
/// passed every check are added, so an attacker cannot fill it without valid keys).
const CAPACITY: usize = 1024;

/// A built principal and the record fields it was built from.
struct Entry {
    name: String,
    roles: Vec<String>,
    expires_at: Option<u64>,
    principal: Principal,
}

impl Entry {
    fn matches(&self, record: &ApiKeyRecord) -> bool {
        self.name == record.name && self.roles == record.roles && self.expires_at == record.expires_at
    }
}

#[derive(Default)]
pub(super) struct Principals {
    by_key_id: RwLock<HashMap<Box<str>, Entry>>,
}

impl Principals {
    /// The principal of `record` (a record that passed every check).
    pub(super) fn of(&self, record: &ApiKeyRecord) -> Principal {
        if let Ok(map) = self.by_key_id.read()
            && let Some(entry) = map.get(record.key_id.as_str())
            && entry.matches(record)
        {
            return entry.principal.clone();
        }
        let principal = build(record);
        if let Ok(mut map) = self.by_key_id.write() {
            if map.len() >= CAPACITY && !map.contains_key(record.key_id.as_str()) {
                map.clear();
            }
            map.insert(
                record.key_id.as_str().into(),
                Entry {
                    name: record.name.clone(),
                    roles: record.roles.clone(),
                    expires_at: record.expires_at,
                    principal: principal.clone(),
                },
            );
        }
        principal
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_key_id.read().map_or(0, |m| m.len())
    }
}

/// The principal of a key: subject = name, its roles, `AuthMethod::ApiKey`, its expiry.
fn build(record: &ApiKeyRecord) -> Principal {
    let mut builder = Principal::builder(record.name.clone())
        .roles(record.roles.iter().cloned())
        .method(AuthMethod::ApiKey {
            key_id: record.key_id.clone(),
        });
    if let Some(exp) = record.expires_at {
        builder = builder.expires_at(UNIX_EPOCH + Duration::from_secs(exp));
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::generate;

    #[test]
    fn a_changed_record_gets_a_new_principal_and_an_unchanged_one_shares_it() {
        let principals = Principals::default();
        let (_, mut record) = generate("ci", ["user"]).unwrap();
        let first = principals.of(&record);
        assert_eq!(first, build(&record));
        assert_eq!(principals.len(), 1);
        assert_eq!(principals.of(&record), first);

        record.roles = vec!["admin".to_owned()];
        let promoted = principals.of(&record);
        assert!(promoted.has_role("admin") && !promoted.has_role("user"));
        assert_eq!(promoted, build(&record));

        record.name = "renamed".to_owned();
        assert_eq!(principals.of(&record).subject(), "renamed");

        record.expires_at = Some(4_000_000_000);
        assert_eq!(
            principals.of(&record).expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(4_000_000_000))
        );
        assert_eq!(principals.of(&record), build(&record));
        assert_eq!(principals.len(), 1);
    }

    #[test]
    fn a_record_replaced_in_the_store_takes_effect_on_the_next_request() {
        use crate::apikey::{ApiKeyAuth, MemoryKeyStore};
        use std::sync::Arc;
        let store = Arc::new(MemoryKeyStore::new());
        let (key, record) = generate("ci", ["user"]).unwrap();
        store.insert(record.clone());
        let auth = ApiKeyAuth::new(store.clone());
        let mut headers = http::HeaderMap::new();
        headers.insert("x-api-key", key.expose_secret().parse().unwrap());
        let uri: http::Uri = "/".parse().unwrap();
        let first = auth.authenticate(&headers, &uri).unwrap();
        assert!(first.has_role("user"));
        assert_eq!(auth.authenticate(&headers, &uri).unwrap(), first);

        store.insert(ApiKeyRecord {
            roles: vec!["admin".to_owned()],
            name: "ci-renamed".to_owned(),
            ..record
        });
        let now = auth.authenticate(&headers, &uri).unwrap();
        assert!(now.has_role("admin") && !now.has_role("user"));
        assert_eq!(now.subject(), "ci-renamed");
        store.revoke(key.key_id());
        assert!(auth.authenticate(&headers, &uri).is_err());
    }

    #[test]
    fn the_cache_keeps_every_key_until_full_then_empties_for_a_new_one() {
        let principals = Principals::default();
        let records: Vec<ApiKeyRecord> = (0..CAPACITY)
            .map(|_| generate("k", ["user"]).unwrap().1)
            .collect();
        for record in &records {
            principals.of(record);
        }
        assert_eq!(
            principals.len(),
            CAPACITY,
            "every key kept until the cache is full"
        );
        // A key already held does not empty a full cache.
        principals.of(&records[0]);
        assert_eq!(principals.len(), CAPACITY);
        // A new key does: the cache stays bounded and refills.
        let (_, newcomer) = generate("k", ["user"]).unwrap();
        assert_eq!(principals.of(&newcomer), build(&newcomer));
        assert_eq!(principals.len(), 1);
    }
}
