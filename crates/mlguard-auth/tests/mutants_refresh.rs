//! `MemoryRefreshStore` on its own, on a manual clock: its lifetime edges, its defaults and
//! its memory bound. Written for the mutants that survived the token-endpoint tests (issue 20,
//! `scripts/mutants refresh`): those tests never move a clock, so an expiry check turned
//! around, a lifetime ignored or the purge removed went unnoticed.

use mlguard_auth::refresh::{
    DEFAULT_REFRESH_TTL, MemoryRefreshStore, Recorded, Redemption, RefreshGrant, RefreshTokenStore,
};
use mlguard_core::ManualClock;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const TTL: Duration = Duration::from_secs(60);

fn store(clock: &ManualClock, ttl: Duration) -> MemoryRefreshStore {
    MemoryRefreshStore::new()
        .with_ttl(ttl)
        .with_clock(Arc::new(clock.clone()))
}

fn grant(username: &str, family: &str) -> RefreshGrant {
    RefreshGrant {
        username: username.into(),
        scope: Some(vec!["predict".into()]),
        family: family.into(),
    }
}

#[test]
fn a_token_is_valid_until_its_lifetime_ends_and_not_at_that_instant() {
    let clock = ManualClock::at_unix(1_000);
    let store = store(&clock, TTL);
    let scope = ["predict".to_owned()];
    let (early, family) = store.issue("alice", Some(&scope), None).unwrap();
    let (late, _) = store.issue("alice", Some(&scope), Some(&family)).unwrap();

    clock.advance(TTL - Duration::from_secs(1));
    assert_eq!(store.peek(&early).unwrap(), Some(grant("alice", &family)));
    assert_eq!(
        store.redeem(&early).unwrap(),
        Redemption::Valid(grant("alice", &family))
    );

    // At exactly issue + ttl the token is expired: neither shown nor redeemable.
    clock.advance(Duration::from_secs(1));
    assert_eq!(store.peek(&late).unwrap(), None);
    assert_eq!(store.redeem(&late).unwrap(), Redemption::Invalid);
    // An expired token reused is not a reuse (nothing to revoke): still just invalid.
    assert_eq!(store.redeem(&early).unwrap(), Redemption::Invalid);
}

#[test]
fn the_default_lifetime_is_seven_days() {
    let clock = ManualClock::at_unix(1_000);
    let store = MemoryRefreshStore::default().with_clock(Arc::new(clock.clone()));
    assert_eq!(DEFAULT_REFRESH_TTL, Duration::from_secs(7 * 24 * 3600));
    let (a, family) = store.issue("bob", None, None).unwrap();
    let (b, _) = store.issue("bob", None, Some(&family)).unwrap();
    clock.advance(DEFAULT_REFRESH_TTL - Duration::from_secs(1));
    let expected = RefreshGrant {
        username: "bob".into(),
        scope: None,
        family: family.clone(),
    };
    assert_eq!(store.peek(&a).unwrap(), Some(expected.clone()));
    assert_eq!(store.redeem(&a).unwrap(), Redemption::Valid(expected));
    clock.advance(Duration::from_secs(1));
    assert_eq!(store.peek(&b).unwrap(), None);
}

#[test]
fn a_new_family_per_login_and_the_given_family_on_rotation() {
    let clock = ManualClock::at_unix(1_000);
    let store = store(&clock, TTL);
    let (_, f1) = store.issue("alice", None, None).unwrap();
    let (_, f2) = store.issue("alice", None, None).unwrap();
    assert_ne!(f1, f2);
    // 12 random bytes, base64url without padding.
    assert_eq!(f1.len(), 16);
    let (t, f3) = store.issue("alice", None, Some(&f1)).unwrap();
    assert_eq!(f3, f1);
    // `mrt_` + 32 random bytes in base64url without padding.
    assert!(t.starts_with("mrt_") && t.len() == 4 + 43, "{}", t.as_str());
}

#[test]
fn a_revoked_family_is_forgotten_once_its_tokens_expire_and_the_store_purges() {
    // The store purges expired tokens, and the families left without a live token, when an
    // issue finds 1023 tokens stored (every 1024 issues): memory stays bounded by the live
    // tokens. Observable through `record_access_token`, which refuses a revoked family.
    let clock = ManualClock::at_unix(1_000);
    let store = store(&clock, TTL);
    let (stolen, family) = store.issue("alice", None, None).unwrap();
    assert!(matches!(store.redeem(&stolen).unwrap(), Redemption::Valid(_)));
    assert!(matches!(
        store.redeem(&stolen).unwrap(),
        Redemption::Reused { .. }
    ));
    let jti_expiry = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000);
    assert_eq!(
        store.record_access_token(&family, "j1", jti_expiry).unwrap(),
        Recorded::FamilyRevoked
    );

    // The family's only token expires at exactly this instant: purged (expiry is exclusive).
    clock.advance(TTL);
    let live = "bob-family";
    let mut bob = Vec::new();
    for _ in 0..1022 {
        bob.push(store.issue("bob", None, Some(live)).unwrap().0);
    }
    // 1023 tokens stored: no purge yet, the family is still refused.
    assert_eq!(
        store.record_access_token(&family, "j2", jti_expiry).unwrap(),
        Recorded::FamilyRevoked
    );
    // This issue finds 1023 tokens: it purges first.
    bob.push(store.issue("bob", None, Some(live)).unwrap().0);
    assert_eq!(
        store.record_access_token(&family, "j3", jti_expiry).unwrap(),
        Recorded::Recorded
    );
    // The live tokens survived the purge.
    assert_eq!(
        store.peek(&bob[0]).unwrap().map(|g| g.family),
        Some(live.to_owned())
    );
    assert_eq!(
        store.peek(&bob[1022]).unwrap().map(|g| g.family),
        Some(live.to_owned())
    );
}

#[test]
fn a_reuse_reports_the_access_tokens_recorded_in_the_family() {
    let clock = ManualClock::at_unix(1_000);
    let store = store(&clock, TTL);
    let (token, family) = store.issue("alice", None, None).unwrap();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900);
    assert_eq!(
        store.record_access_token(&family, "j1", at).unwrap(),
        Recorded::Recorded
    );
    assert!(matches!(store.redeem(&token).unwrap(), Redemption::Valid(_)));
    assert_eq!(store.peek(&token).unwrap(), None);
    assert_eq!(
        store.redeem(&token).unwrap(),
        Redemption::Reused {
            access_tokens: vec![("j1".into(), at)]
        }
    );
    // Once revoked, even a reuse is only invalid, and nothing is reported twice.
    assert_eq!(store.redeem(&token).unwrap(), Redemption::Invalid);
}

#[test]
fn debug_names_the_store_and_its_lifetime_but_no_token() {
    let clock = ManualClock::at_unix(1_000);
    let store = store(&clock, TTL);
    let (token, family) = store.issue("alice", None, None).unwrap();
    let shown = format!("{store:?}");
    assert!(shown.starts_with("MemoryRefreshStore"), "{shown}");
    assert!(shown.contains("60s"), "{shown}");
    assert!(
        !shown.contains(token.as_str()) && !shown.contains(&family),
        "{shown}"
    );
}
