//! Query budgets and detector state in a real Redis: two instances share one budget, and one
//! detector state per principal.
#![cfg(feature = "redis")]

use std::time::Duration;

use mlguard_core::Principal;
use mlguard_modelsec::QueryBudget;
use mlguard_ratelimit::RedisBackend;
use mlguard_testkit::RedisServer;

#[tokio::test]
async fn two_instances_share_one_budget() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let build = || {
        QueryBudget::builder("10/day")
            .redis(RedisBackend::new(server.url()).timeout(Duration::from_secs(2)))
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    let who = Principal::builder("spread-out").build();
    a.charge(&who, 4).await.unwrap();
    b.charge(&who, 4).await.unwrap();
    assert_eq!(a.charge(&who, 3).await.unwrap_err().status(), 429);
    b.charge(&who, 2).await.unwrap();
    assert_eq!(b.charge(&who, 1).await.unwrap_err().status(), 429);
}

#[tokio::test]
async fn two_detectors_sharing_redis_see_one_principal() {
    use mlguard_core::ManualClock;
    use mlguard_modelsec::store::RedisStore;
    use mlguard_modelsec::{Envelope, ExtractionAction, ExtractionDetector, Standing};
    use std::sync::Arc;

    let Some(server) = RedisServer::start() else {
        return;
    };
    let clock = ManualClock::at_unix(1_800_000_000);
    // One feature in [0, 1]; queries in [5, 6] are all outside the envelope.
    let envelope = || Envelope::new(vec![0.0], vec![1.0], vec![0.5], vec![vec![12.0]], 3.0).unwrap();
    let build = || {
        let store = RedisStore::new(&server.url())
            .unwrap()
            .timeout(Duration::from_secs(2));
        ExtractionDetector::builder()
            .envelope(envelope())
            .action(ExtractionAction::Block)
            .clock(Arc::new(clock.clone()))
            .store(Arc::new(store))
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    let eve = Principal::builder("eve").build();
    // 19 out-of-distribution queries alternate between the instances: neither alone has the
    // 20 the rate detector needs, together they do.
    let mut blocked = false;
    for i in 0..40u32 {
        let d = if i % 2 == 0 { &a } else { &b };
        let x = vec![5.0 + f64::from(i) / 40.0];
        if d.observe(&eve, &[x], &[0]).await.is_err() {
            assert_eq!(i, 19, "alarm at query {i}");
            blocked = true;
            break;
        }
    }
    assert!(blocked);
    // The other instance refuses eve before the model runs.
    assert_eq!(a.check(&eve).await.unwrap_err().status(), 403);
    assert_eq!(b.check(&eve).await.unwrap_err().status(), 403);
    assert_eq!(
        a.check(&Principal::builder("bob").build()).await.unwrap(),
        Standing::Normal
    );
    assert_eq!(a.store().len(), 0); // not counted in Redis

    // A dead Redis: the detector fails open, within the timeout.
    let dead = ExtractionDetector::builder()
        .store(Arc::new(
            RedisStore::new("redis://127.0.0.1:1/")
                .unwrap()
                .timeout(Duration::from_millis(50)),
        ))
        .build()
        .unwrap();
    assert_eq!(dead.check(&eve).await.unwrap(), Standing::Normal);
    assert!(!dead.observe(&eve, &[vec![1.0]], &[0]).await.unwrap().alarm);
}
