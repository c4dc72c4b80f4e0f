//! Per-layer overhead: one in-process request (no sockets) through an axum `Router` with one
//! `POST /predict` route, first bare, then behind each mlguard layer alone, then behind the
//! whole stack the example server uses (authentication -> rate limit -> RBAC -> validated JSON
//! -> model prediction). Every case runs in the same criterion group, in one run, so the
//! overhead of each layer is read as a difference (and a ratio) against the bare handler
//! measured minutes apart on the same machine, not against a figure from another day.
//!
//! Each request is built outside the timed region (`iter_batched`) and driven with
//! `ServiceExt::oneshot` on a clone of the router inside a tokio current-thread runtime
//! (`block_on`), so the runtime's cost is in the baseline too. Every case is checked to answer
//! 200 before it is measured: a misconfigured case would otherwise time a cheap rejection.
//!
//! The Redis case runs against a `redis-server` this bench starts on a free loopback port
//! (skipped, with a note, when `redis-server` is not on `PATH`).
//!
//! After the run, the bench prints a Markdown table of the medians, the time each case adds
//! over its baseline, and the ratio, read from criterion's estimates of this run.
//!
//! The edge cases (`request_id`, `access_log`, `security_headers`, `edge`) wrap the whole
//! router, as ml-api does. The access log writes through a `tracing-subscriber` text format with
//! mlguard's escaping into mlguard-http's non-blocking `LogWriter` (to `io::sink`), the way
//! ml-api logs; the subscriber records only the access-log target, so no other case logs.
//!
//! With the `count-allocations` feature (which replaces the global allocator with
//! `allocation-counter`'s), each case's heap allocations per request are counted on the bench
//! thread before it is measured (after a warm-up, over [`ALLOC_REQUESTS`] requests built
//! beforehand) and printed as a table, also in `cargo test` mode:
//! `cargo test -p mlguard-benches --features count-allocations --bench layers -- --nocapture`.

use std::cell::RefCell;
use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::routing::post;
use axum::{Json, Router};
use criterion::{BatchSize, BenchmarkGroup, Criterion, measurement::WallTime};
use http::{HeaderValue, Request, StatusCode};
use mlguard_auth::AuthLayer;
use mlguard_auth::apikey::{ApiKeyAuth, ApiKeyLayer, MemoryKeyStore, generate};
use mlguard_auth::jwt::{
    BearerAuth, BearerAuthLayer, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey,
};
use mlguard_core::{AuthMethod, ClientIpResolver, Principal, Problem};
use mlguard_http::access_log::{ACCESS_LOG_TARGET, AccessLogLayer, sensitive_headers_layer};
use mlguard_http::headers::SecurityHeadersLayer;
use mlguard_http::limits::PerKeyInFlightLayer;
use mlguard_http::log_format::{CachedSystemTime, EscapedFields};
use mlguard_http::log_writer::{LogWriterBuilder, LogWriterGuard};
use mlguard_http::request_id::RequestIdLayer;
use mlguard_model::{ForestParams, Model};
use mlguard_modelsec::{
    Envelope, ExtractionDetector, ModelGuard, ModelOutput, OodAction, OutputPolicy, OutputPolicyResolver,
    QueryBudget,
};
use mlguard_ratelimit::{KeyExtractor, OnRedisFailure, RateLimitLayer, RedisBackend};
use mlguard_rbac::{Authorizer, GuardLayer, PermissionMap, Policy, RequirePermissionLayer, Requirement};
use mlguard_testkit::RedisServer;
use mlguard_validate::ValidatedJson;
use mlguard_validate::validators::finite;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tower::util::MapRequestLayer;
use tower::{ServiceBuilder, ServiceExt};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, filter::Targets};
use validator::Validate;

/// The criterion group every case belongs to.
const GROUP: &str = "layers";
/// High enough that no limiter ever rejects during a run.
const QUOTA: &str = "1000000000/second";
/// One iris sample, as a client sends it.
const IRIS: &str = r#"{"sepal_length":6.1,"sepal_width":2.8,"petal_length":4.7,"petal_width":1.2}"#;
const ED25519_PRIVATE: &[u8] = include_bytes!("../data/ed25519_private.pem");
const ED25519_PUBLIC: &[u8] = include_bytes!("../data/ed25519_public.pem");

/// One iris sample, validated as the example server does.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct Iris {
    #[validate(custom(function = "finite"), range(min = 0.0, max = 100.0))]
    sepal_length: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 100.0))]
    sepal_width: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 100.0))]
    petal_length: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 100.0))]
    petal_width: f64,
}

/// The bare handler's small answer.
#[derive(Serialize)]
struct Answer {
    class: &'static str,
}

/// The model route's answer (the example server's shape).
#[derive(Serialize)]
struct PredictAnswer {
    prediction: usize,
    class: String,
    probabilities: Vec<f64>,
}

async fn bare() -> Json<Answer> {
    Json(Answer { class: "setosa" })
}

/// axum's own `Json` extractor: serde only, no bounds, no validation (for comparison).
async fn axum_json(Json(x): Json<Iris>) -> Json<Answer> {
    Json(Answer {
        class: if x.petal_length < 2.5 { "setosa" } else { "other" },
    })
}

async fn validated(ValidatedJson(x): ValidatedJson<Iris>) -> Json<Answer> {
    Json(Answer {
        class: if x.petal_length < 2.5 { "setosa" } else { "other" },
    })
}

async fn predict(
    State(model): State<Arc<Model>>,
    ValidatedJson(x): ValidatedJson<Iris>,
) -> Result<Json<PredictAnswer>, StatusCode> {
    let sample = [x.sepal_length, x.sepal_width, x.petal_length, x.petal_width];
    let p = model
        .predict(&sample)
        .map_err(|_| StatusCode::UNPROCESSABLE_ENTITY)?;
    Ok(Json(PredictAnswer {
        prediction: p.class_index,
        class: p.class_name,
        probabilities: p.probabilities,
    }))
}

impl ModelOutput for PredictAnswer {
    fn round_probabilities(&mut self, decimals: u32) {
        mlguard_modelsec::output::round_all(&mut self.probabilities, decimals);
    }
    fn strip_probabilities(&mut self) {
        self.probabilities.clear();
    }
}

/// `predict` behind mlguard-modelsec's `ModelGuard::run` (budget, envelope, extraction
/// detector, output policy), as ml-api's `/predict` runs the model.
async fn predict_guarded(
    State((model, guard)): State<(Arc<Model>, Arc<ModelGuard>)>,
    principal: Principal,
    ValidatedJson(x): ValidatedJson<Iris>,
) -> Result<Json<PredictAnswer>, Problem> {
    let rows = [vec![x.sepal_length, x.sepal_width, x.petal_length, x.petal_width]];
    let predict = |rows: &[Vec<f64>]| -> Result<Vec<PredictAnswer>, Problem> {
        let p = rows
            .first()
            .map(|row| model.predict(row))
            .transpose()
            .map_err(|e| Problem::unprocessable(e.to_string()))?
            .ok_or_else(|| Problem::unprocessable("no row"))?;
        Ok(vec![PredictAnswer {
            prediction: p.class_index,
            class: p.class_name,
            probabilities: p.probabilities,
        }])
    };
    let answers = guard.run(&principal, &rows, predict, |a| a.prediction).await?;
    answers
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| Problem::unprocessable("no prediction"))
}

fn bare_router() -> Router {
    Router::new().route("/predict", post(bare))
}

/// Which credential a case's requests carry.
#[derive(Clone)]
enum Credential {
    None,
    ApiKey(HeaderValue),
    Bearer(HeaderValue),
}

/// `POST /predict` with the iris body, a peer address (as `axum::serve` would add) and the
/// credential.
fn request(credential: &Credential) -> Request<Body> {
    let peer: SocketAddr = SocketAddr::from(([192, 0, 2, 1], 40_000));
    let mut req = Request::post("/predict")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(IRIS))
        .unwrap_or_else(|e| panic!("request: {e}"));
    match credential {
        Credential::None => {}
        Credential::ApiKey(v) => {
            req.headers_mut().insert("x-api-key", v.clone());
        }
        Credential::Bearer(v) => {
            req.headers_mut().insert(http::header::AUTHORIZATION, v.clone());
        }
    }
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

/// Runs one case: checks it answers 200, then measures it (when the filter selects it).
struct Bench<'a> {
    rt: &'a Runtime,
    ran: &'a RefCell<Vec<Entry>>,
    /// Allocations per request of each case (with the `count-allocations` feature).
    allocs: &'a RefCell<Vec<(Case, f64)>>,
}

/// `LAYERS_ONLY=bare,api_key,...`: only these cases are checked, counted and measured (all when
/// unset), to profile or trace one case alone (`valgrind`, allocation stacks).
fn selected(id: &str) -> bool {
    match std::env::var("LAYERS_ONLY") {
        Ok(only) => only.split(',').any(|c| c.trim() == id),
        Err(_) => true,
    }
}

/// Requests whose allocations are counted per case (after as many unmeasured ones).
const ALLOC_REQUESTS: usize = 200;

/// Heap allocations per request of `app` on this thread (requests built beforehand).
#[cfg(feature = "count-allocations")]
fn allocations_per_request(rt: &Runtime, app: &Router, credential: &Credential) -> f64 {
    let run = |n: usize| {
        let requests: Vec<_> = (0..n).map(|_| request(credential)).collect();
        let mut statuses = Vec::with_capacity(n);
        let info = allocation_counter::measure(|| {
            for req in requests {
                let resp = rt
                    .block_on(app.clone().oneshot(req))
                    .unwrap_or_else(|e| match e {});
                statuses.push(resp.status());
            }
        });
        assert!(statuses.iter().all(|s| *s == StatusCode::OK));
        info.count_total
    };
    run(ALLOC_REQUESTS); // warm-up: lazily built state, thread-local buffers
    run(ALLOC_REQUESTS) as f64 / ALLOC_REQUESTS as f64
}

/// Prints the allocations table (nothing without the `count-allocations` feature).
fn print_allocs(allocs: &[(Case, f64)]) {
    if allocs.is_empty() {
        return;
    }
    let find = |id: &str| allocs.iter().find(|(c, _)| c.id == id).map(|(_, n)| *n);
    println!(
        "\nHeap allocations per request on the bench thread ({ALLOC_REQUESTS} requests after as many warm-up ones)."
    );
    println!("| case | allocations per request | baseline | added over baseline |");
    println!("|---|---|---|---|");
    for (case, n) in allocs {
        let added = match find(case.baseline) {
            Some(base) if case.id != case.baseline => format!("{:+.1}", n - base),
            _ => "-".to_owned(),
        };
        println!("| `{}` | {n:.1} | `{}` | {added} |", case.id, case.baseline);
    }
}

/// A case that criterion measured, kept for the interleaved rounds.
struct Entry {
    case: Case,
    app: Router,
    credential: Credential,
}

/// A measured case and the case it is compared with.
#[derive(Clone, Copy)]
struct Case {
    id: &'static str,
    baseline: &'static str,
    what: &'static str,
}

impl Bench<'_> {
    fn case(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        case: Case,
        app: Router,
        credential: Credential,
    ) {
        if !selected(case.id) {
            return;
        }
        let check = self
            .rt
            .block_on(app.clone().oneshot(request(&credential)))
            .unwrap_or_else(|e| match e {});
        assert_eq!(
            check.status(),
            StatusCode::OK,
            "{}: the case must succeed",
            case.id
        );
        #[cfg(feature = "count-allocations")]
        self.allocs
            .borrow_mut()
            .push((case, allocations_per_request(self.rt, &app, &credential)));
        group.bench_function(case.id, |b| {
            let mut ran = self.ran.borrow_mut();
            if !ran.iter().any(|e| e.case.id == case.id) {
                ran.push(Entry {
                    case,
                    app: app.clone(),
                    credential: credential.clone(),
                });
            }
            drop(ran);
            b.iter_batched(
                || request(&credential),
                |req| {
                    let resp = self
                        .rt
                        .block_on(app.clone().oneshot(black_box(req)))
                        .unwrap_or_else(|e| match e {});
                    black_box(resp.status())
                },
                BatchSize::SmallInput,
            );
        });
    }
}

fn principal() -> Principal {
    Principal::builder("alice")
        .role("user")
        .method(AuthMethod::Bearer { token_id: None })
        .build()
}

fn bearer_value(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Bearer {token}")).unwrap_or_else(|e| panic!("header: {e}"))
}

/// Defines and measures every case; returns the Redis server (kept alive for the
/// interleaved rounds) when one was started.
fn layers(
    c: &mut Criterion,
    rt: &Runtime,
    ran: &RefCell<Vec<Entry>>,
    allocs: &RefCell<Vec<(Case, f64)>>,
) -> Option<RedisServer> {
    let _enter = rt.enter();
    let bench = Bench { rt, ran, allocs };

    // Credentials and verifiers.
    let secret = [7u8; 32];
    let hs_issuer = JwtIssuer::new(
        SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap_or_else(|e| panic!("{e}")),
    )
    .issuer("ml-api")
    .audience("ml-api");
    let hs_verifier = || {
        JwtVerifier::builder()
            .key(
                VerifyingKey::hmac(JwtAlgorithm::HS256, &secret)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .with_kid("k1"),
            )
            .issuer("ml-api")
            .audience("ml-api")
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let roles = ["user".to_owned()];
    let hs_token = hs_issuer
        .issue("alice", &roles, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let ed_issuer = JwtIssuer::new(
        SigningKey::from_pem(JwtAlgorithm::EdDSA, "ed1", ED25519_PRIVATE).unwrap_or_else(|e| panic!("{e}")),
    )
    .issuer("ml-api")
    .audience("ml-api");
    let ed_verifier = JwtVerifier::builder()
        .key(
            VerifyingKey::from_pem(JwtAlgorithm::EdDSA, ED25519_PUBLIC)
                .unwrap_or_else(|e| panic!("{e}"))
                .with_kid("ed1"),
        )
        .issuer("ml-api")
        .audience("ml-api")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let ed_token = ed_issuer
        .issue("alice", &roles, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let keys = Arc::new(MemoryKeyStore::new());
    let (api_key, record) = generate("bench", ["user"]).unwrap_or_else(|e| panic!("{e}"));
    keys.insert(record);
    let api_key =
        Credential::ApiKey(HeaderValue::from_str(api_key.expose_secret()).unwrap_or_else(|e| panic!("{e}")));
    let hs = Credential::Bearer(bearer_value(hs_token.access_token()));
    let ed = Credential::Bearer(bearer_value(ed_token.access_token()));

    // Authorization.
    let policy = Policy::from_toml_str("[roles.user]\npermissions = [\"model:predict\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let authz = Authorizer::new(policy);
    let need_predict =
        || RequirePermissionLayer::try_new(&authz, "model:predict").unwrap_or_else(|e| panic!("{e}"));
    let insert_principal = {
        let p = principal();
        MapRequestLayer::new(move |mut req: Request<Body>| {
            req.extensions_mut().insert(p.clone());
            req
        })
    };

    // Rate limits.
    let memory_limit = RateLimitLayer::builder()
        .quota(QUOTA)
        .key(KeyExtractor::client_ip(ClientIpResolver::new()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let principal_limit = RateLimitLayer::builder()
        .quota(QUOTA)
        .key(KeyExtractor::principal_subject())
        .policy_name("predict")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    // The model the example server serves: 100 trees on iris.
    let model = Arc::new(
        ForestParams::new()
            .train_iris(SystemTime::now())
            .unwrap_or_else(|e| panic!("{e}"))
            .model,
    );

    let mut group = c.benchmark_group(GROUP);
    let none = Credential::None;
    let case = |id, baseline, what| Case { id, baseline, what };

    bench.case(
        &mut group,
        case("bare", "bare", "bare handler (small JSON answer, body unread)"),
        bare_router(),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "identity_layer",
            "bare",
            "a layer that does nothing, wrapping the router as the edge layers do (axum boxes it)",
        ),
        bare_router().layer(MapRequestLayer::new(|req: Request<Body>| req)),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "identity_route_layer",
            "bare",
            "a route layer that does nothing (axum boxes the layered route): the route layers' baseline",
        ),
        bare_router().route_layer(MapRequestLayer::new(|req: Request<Body>| req)),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "request_id",
            "identity_layer",
            "`RequestIdLayer` (a UUID v4 per request, echoed on the response)",
        ),
        bare_router().layer(RequestIdLayer::new()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "access_log",
            "identity_layer",
            "`AccessLogLayer`, one text line per request to the non-blocking writer",
        ),
        bare_router().layer(AccessLogLayer::new()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "security_headers",
            "identity_layer",
            "`SecurityHeadersLayer` (five headers on the response)",
        ),
        bare_router().layer(SecurityHeadersLayer::new()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "edge",
            "identity_layer",
            "ml-api's edge: sensitive headers, request id, access log, security headers",
        ),
        bare_router().layer(
            ServiceBuilder::new()
                .layer(sensitive_headers_layer())
                .layer(RequestIdLayer::new())
                .layer(AccessLogLayer::new())
                .layer(SecurityHeadersLayer::new()),
        ),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "api_key",
            "identity_route_layer",
            "API key (`ApiKeyLayer`, memory store)",
        ),
        bare_router().route_layer(ApiKeyLayer::new(ApiKeyAuth::new(keys.clone()))),
        api_key.clone(),
    );
    bench.case(
        &mut group,
        case(
            "jwt_hs256",
            "identity_route_layer",
            "JWT HS256 (`BearerAuthLayer`)",
        ),
        bare_router().route_layer(BearerAuthLayer::new(BearerAuth::new(hs_verifier()))),
        hs.clone(),
    );
    bench.case(
        &mut group,
        case(
            "jwt_eddsa",
            "identity_route_layer",
            "JWT EdDSA (`BearerAuthLayer`)",
        ),
        bare_router().route_layer(BearerAuthLayer::new(BearerAuth::new(ed_verifier))),
        ed,
    );
    bench.case(
        &mut group,
        case(
            "principal_insert",
            "identity_route_layer",
            "a tiny layer inserting a `Principal` (RBAC's input)",
        ),
        bare_router().route_layer(insert_principal.clone()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "rbac",
            "principal_insert",
            "RBAC (`RequirePermissionLayer`, `model:predict`)",
        ),
        bare_router()
            .route_layer(need_predict())
            .route_layer(insert_principal.clone()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "ratelimit_memory",
            "identity_route_layer",
            "rate limit, memory, peer-IP key, GCRA, IETF fields",
        ),
        bare_router().route_layer(memory_limit),
        none.clone(),
    );
    // `None` when redis-server is not installed (outside CI): the case is skipped, said below.
    let redis = match RedisServer::start() {
        Some(server) => {
            let redis_limit = RateLimitLayer::builder()
                .quota(QUOTA)
                .key(KeyExtractor::client_ip(ClientIpResolver::new()))
                .redis(
                    RedisBackend::new(server.url())
                        .timeout(Duration::from_secs(1))
                        .on_failure(OnRedisFailure::FailClosed),
                )
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            bench.case(
                &mut group,
                case(
                    "ratelimit_redis",
                    "identity_route_layer",
                    "rate limit, Redis on loopback (one EVALSHA round trip)",
                ),
                bare_router().route_layer(redis_limit),
                none.clone(),
            );
            Some(server)
        }
        None => {
            eprintln!("note: skipping ratelimit_redis: redis-server is not installed");
            None
        }
    };
    bench.case(
        &mut group,
        case(
            "axum_json",
            "bare",
            "axum's `Json<Iris>` (serde only, for comparison)",
        ),
        Router::new().route("/predict", post(axum_json)),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "validated_json",
            "bare",
            "`ValidatedJson<Iris>` (bounds, pre-scan, serde, validator)",
        ),
        Router::new().route("/predict", post(validated)),
        none.clone(),
    );
    let model_route = || {
        Router::new()
            .route("/predict", post(predict))
            .with_state(model.clone())
    };
    bench.case(
        &mut group,
        case(
            "predict",
            "bare",
            "`ValidatedJson` + 100-tree forest prediction, no security",
        ),
        model_route(),
        none.clone(),
    );
    let combined_auth = || {
        AuthLayer::new()
            .api_key(ApiKeyAuth::new(keys.clone()))
            .bearer(BearerAuth::new(hs_verifier()))
    };

    // ml-api's `/predict` route stack, one layer at a time (`app.rs`: authentication, the
    // deny-by-default guard, the per-principal in-flight cap, the per-principal quota, the
    // handler with `ValidatedJson` and the model protection). Each layer alone has its own row
    // over `principal_insert` (the principal it reads, inserted the cheapest way), and the
    // `mlapi_*` rows add them one by one, each over the row before, up to the whole stack.
    let guard = || {
        let map = PermissionMap::builder()
            .requirement(
                None,
                "/predict",
                Requirement::Permission("model:predict".parse().unwrap_or_else(|e| panic!("{e}"))),
            )
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        GuardLayer::try_new(&authz, map).unwrap_or_else(|e| panic!("{e}"))
    };
    let in_flight = || {
        PerKeyInFlightLayer::try_new(64, |parts| {
            Principal::from_extensions(&parts.extensions).map(Principal::id)
        })
        .unwrap_or_else(|e| panic!("{e}"))
        .name("principal")
        .detail("Too many of your requests are in flight; retry shortly")
    };
    let quota = || {
        RateLimitLayer::builder()
            .quota(QUOTA)
            .key(KeyExtractor::principal())
            .policy_name("predict")
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    // ml-api's model protection with its defaults (budget, envelope with `log`, the extraction
    // detector with `degrade`), the budget lifted so that no run spends it.
    let model_guard = {
        let envelope = model
            .training_stats()
            .map(Envelope::from_training_stats)
            .transpose()
            .unwrap_or_else(|e| panic!("{e}"));
        let guard = ModelGuard::builder(
            OutputPolicyResolver::new(OutputPolicy::LabelOnly)
                .full_with_permission("model:probabilities")
                .at_most(OutputPolicy::Rounded { decimals: 2 }),
        )
        .budget(
            QueryBudget::builder(QUOTA)
                .policy_name("predict-budget")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .training_envelope(envelope, OodAction::Log, ExtractionDetector::builder())
        .unwrap_or_else(|e| panic!("{e}"))
        .build();
        assert!(
            guard.envelope().is_some(),
            "the iris model has training statistics"
        );
        Arc::new(guard)
    };
    let guarded_route = || {
        Router::new()
            .route("/predict", post(predict_guarded))
            .with_state((model.clone(), model_guard.clone()))
    };
    bench.case(
        &mut group,
        case(
            "guard",
            "principal_insert",
            "RBAC guard (`GuardLayer`, a permission map: `/predict` needs `model:predict`)",
        ),
        bare_router()
            .route_layer(guard())
            .route_layer(insert_principal.clone()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "in_flight",
            "principal_insert",
            "per-principal in-flight cap (`PerKeyInFlightLayer` on `Principal::id`)",
        ),
        bare_router()
            .route_layer(in_flight())
            .route_layer(insert_principal.clone()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "ratelimit_principal",
            "principal_insert",
            "rate limit, memory, `KeyExtractor::principal()` (ml-api's predict quota)",
        ),
        bare_router()
            .route_layer(quota())
            .route_layer(insert_principal.clone()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "predict_principal",
            "predict",
            "`predict` behind a tiny layer inserting a `Principal` (modelsec's input)",
        ),
        model_route().route_layer(insert_principal.clone()),
        none.clone(),
    );
    bench.case(
        &mut group,
        case(
            "modelsec",
            "predict_principal",
            "`predict` inside `ModelGuard::run`: budget, envelope, extraction detector, output policy",
        ),
        guarded_route().route_layer(insert_principal.clone()),
        none.clone(),
    );
    for (credential, ids) in [
        (
            &api_key,
            [
                "mlapi_api_key_auth",
                "mlapi_api_key_guard",
                "mlapi_api_key_in_flight",
                "mlapi_api_key_quota",
                "mlapi_api_key_modelsec",
            ],
        ),
        (
            &hs,
            [
                "mlapi_jwt_hs256_auth",
                "mlapi_jwt_hs256_guard",
                "mlapi_jwt_hs256_in_flight",
                "mlapi_jwt_hs256_quota",
                "mlapi_jwt_hs256_modelsec",
            ],
        ),
    ] {
        bench.case(
            &mut group,
            case(ids[0], "predict", "`predict` + `AuthLayer` (API key or bearer)"),
            model_route().route_layer(combined_auth()),
            credential.clone(),
        );
        bench.case(
            &mut group,
            case(ids[1], ids[0], "+ RBAC guard"),
            model_route().route_layer(guard()).route_layer(combined_auth()),
            credential.clone(),
        );
        bench.case(
            &mut group,
            case(ids[2], ids[1], "+ per-principal in-flight cap"),
            Router::new()
                .route("/predict", post(predict).layer(in_flight()))
                .with_state(model.clone())
                .route_layer(guard())
                .route_layer(combined_auth()),
            credential.clone(),
        );
        bench.case(
            &mut group,
            case(ids[3], ids[2], "+ per-principal quota"),
            Router::new()
                .route(
                    "/predict",
                    post(predict).layer(ServiceBuilder::new().layer(in_flight()).layer(quota())),
                )
                .with_state(model.clone())
                .route_layer(guard())
                .route_layer(combined_auth()),
            credential.clone(),
        );
        bench.case(
            &mut group,
            case(
                ids[4],
                ids[3],
                "+ model protection: ml-api's `/predict` route stack, whole",
            ),
            Router::new()
                .route(
                    "/predict",
                    post(predict_guarded).layer(ServiceBuilder::new().layer(in_flight()).layer(quota())),
                )
                .with_state((model.clone(), model_guard.clone()))
                .route_layer(guard())
                .route_layer(combined_auth()),
            credential.clone(),
        );
    }
    bench.case(
        &mut group,
        case(
            "auth_combined_jwt_hs256",
            "identity_route_layer",
            "`AuthLayer` (API key or bearer), with an HS256 token",
        ),
        bare_router().route_layer(combined_auth()),
        hs.clone(),
    );
    bench.case(
        &mut group,
        case(
            "auth_combined_api_key",
            "identity_route_layer",
            "`AuthLayer` (API key or bearer), with an API key",
        ),
        bare_router().route_layer(combined_auth()),
        api_key.clone(),
    );
    bench.case(
        &mut group,
        case(
            "stack_no_auth",
            "predict",
            "the full stack with a pre-inserted `Principal` instead of authentication",
        ),
        Router::new()
            .route("/predict", post(predict))
            .route_layer(need_predict())
            .route_layer(principal_limit.clone())
            .route_layer(insert_principal.clone())
            .with_state(model.clone()),
        none.clone(),
    );
    let full = || {
        Router::new()
            .route("/predict", post(predict))
            .route_layer(need_predict())
            .route_layer(principal_limit.clone())
            .route_layer(combined_auth())
            .with_state(model.clone())
    };
    bench.case(
        &mut group,
        case(
            "full_jwt_hs256",
            "predict",
            "full stack, JWT HS256: auth -> rate limit -> RBAC -> validated JSON -> predict",
        ),
        full(),
        hs,
    );
    bench.case(
        &mut group,
        case(
            "full_api_key",
            "predict",
            "full stack, API key: auth -> rate limit -> RBAC -> validated JSON -> predict",
        ),
        full(),
        api_key,
    );
    group.finish();
    redis
}

/// Rounds of the interleaved estimate.
const ROUNDS: usize = 40;
/// Wall time of one case's batch in a round.
const BATCH_TIME: Duration = Duration::from_millis(8);

/// Mean time (ns) per request of `n` requests of `entry`, requests built before the clock starts.
fn time_batch(rt: &Runtime, entry: &Entry, n: usize) -> f64 {
    let requests: Vec<_> = (0..n).map(|_| request(&entry.credential)).collect();
    let mut responses = Vec::with_capacity(n);
    let start = std::time::Instant::now();
    for req in requests {
        let resp = rt
            .block_on(entry.app.clone().oneshot(black_box(req)))
            .unwrap_or_else(|e| match e {});
        responses.push(resp);
    }
    let elapsed = start.elapsed();
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    elapsed.as_nanos() as f64 / n as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The paired estimate: `ROUNDS` rounds, each timing a short batch of every case in turn, so a
/// case and its baseline are measured milliseconds apart; per case, the median over rounds of
/// (case - baseline) and of (case / bare). On a shared machine whose load drifts during the
/// minutes criterion takes, this is the steadier figure for small differences.
fn interleaved(rt: &Runtime, entries: &[Entry]) {
    let Some(bare_index) = entries.iter().position(|e| e.case.id == "bare") else {
        return;
    };
    let sizes: Vec<usize> = entries
        .iter()
        .map(|e| {
            let per_request = time_batch(rt, e, 50).max(1.0);
            ((BATCH_TIME.as_nanos() as f64 / per_request) as usize).clamp(10, 100_000)
        })
        .collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); entries.len()];
    for _ in 0..ROUNDS {
        for (i, e) in entries.iter().enumerate() {
            times[i].push(time_batch(rt, e, sizes[i]));
        }
    }
    let index = |id: &str| entries.iter().position(|e| e.case.id == id);
    println!("\nInterleaved: {ROUNDS} rounds; medians over rounds of paired differences and ratios.");
    println!("| case | median time | added over baseline | baseline | x bare |");
    println!("|---|---|---|---|---|");
    for (i, e) in entries.iter().enumerate() {
        let mut own = times[i].clone();
        let added = match index(e.case.baseline) {
            Some(b) if b != i => {
                let mut diffs: Vec<f64> = times[i].iter().zip(&times[b]).map(|(x, y)| x - y).collect();
                let d = median(&mut diffs);
                format!("{}{}", if d >= 0.0 { "+" } else { "" }, format_ns(d))
            }
            _ => "-".to_owned(),
        };
        let mut ratios: Vec<f64> = times[i]
            .iter()
            .zip(&times[bare_index])
            .map(|(x, y)| x / y)
            .collect();
        println!(
            "| `{}` | {} | {} | `{}` | {:.2} |",
            e.case.id,
            format_ns(median(&mut own)),
            added,
            e.case.baseline,
            median(&mut ratios)
        );
    }
}

/// Where criterion writes its estimates: `$CRITERION_HOME`, else `<target>/criterion` (this
/// binary is `<target>/<profile>/deps/layers-<hash>`).
fn criterion_home() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(home));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.ancestors().nth(3)?.join("criterion"))
}

/// The median (ns) of one case, when criterion wrote it during this run.
fn median_ns(home: &std::path::Path, id: &str, since: SystemTime) -> Option<f64> {
    let path = home.join(GROUP).join(id).join("new").join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn format_ns(ns: f64) -> String {
    if ns.abs() >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns.abs() >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Prints the Markdown table of this run's cases (nothing in `cargo test` mode).
fn print_table(cases: &[Case], since: SystemTime) {
    let Some(home) = criterion_home() else { return };
    let medians: Vec<(Case, f64)> = cases
        .iter()
        .filter_map(|c| median_ns(&home, c.id, since).map(|m| (*c, m)))
        .collect();
    let find = |id: &str| medians.iter().find(|(c, _)| c.id == id).map(|(_, m)| *m);
    let Some(bare) = find("bare") else { return };
    println!("\n| case | what | median | baseline | added over baseline | x bare |");
    println!("|---|---|---|---|---|---|");
    for (case, median) in &medians {
        let added = find(case.baseline).map_or_else(
            || "-".to_owned(),
            |base| {
                if case.id == case.baseline {
                    "-".to_owned()
                } else {
                    format!(
                        "{}{}",
                        if median >= &base { "+" } else { "" },
                        format_ns(median - base)
                    )
                }
            },
        );
        println!(
            "| `{}` | {} | {} | `{}` | {} | {:.2} |",
            case.id,
            case.what,
            format_ns(*median),
            case.baseline,
            added,
            median / bare
        );
    }
}

/// Installs the access log's subscriber, as ml-api's (text format, escaped fields, the
/// non-blocking writer), recording only the access-log target; the guard keeps the writer.
fn access_log_subscriber() -> LogWriterGuard {
    let (writer, guard) = LogWriterBuilder::new()
        .build(std::io::sink())
        .unwrap_or_else(|e| panic!("log writer: {e}"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_timer(CachedSystemTime)
                .fmt_fields(EscapedFields)
                .with_writer(writer)
                .with_filter(Targets::new().with_target(ACCESS_LOG_TARGET, tracing::Level::INFO)),
        )
        .init();
    guard
}

fn main() {
    let since = SystemTime::now();
    let _log = access_log_subscriber();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let ran = RefCell::new(Vec::new());
    let allocs = RefCell::new(Vec::new());
    let mut c = Criterion::default().configure_from_args();
    let redis = layers(&mut c, &rt, &ran, &allocs);
    c.final_summary();
    print_allocs(&allocs.borrow());
    let entries = ran.into_inner();
    let cases: Vec<Case> = entries.iter().map(|e| e.case).collect();
    print_table(&cases, since);
    // Only when benchmarking (`cargo bench` passes `--bench`), not in `cargo test`'s single pass.
    if std::env::args().any(|a| a == "--bench") {
        let _enter = rt.enter();
        interleaved(&rt, &entries);
    }
    drop(redis);
}
