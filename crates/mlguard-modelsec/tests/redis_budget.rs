//! Query budgets in a real Redis (mlguard-ratelimit's backend): two instances share one budget.
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
