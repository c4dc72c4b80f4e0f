//! The quickstart: a plain axum app that adopts mlguard one layer at a time, through the
//! `mlguard` facade only. Each step below is one of the README's "Adopt one layer at a time".

use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use mlguard::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::{Layer, ServiceBuilder};

/// The body of `POST /predict` (step 4: validated JSON; 422 names each bad field).
#[derive(Debug, Deserialize, Validate)]
#[validate(crate = "mlguard::validator")]
#[serde(deny_unknown_fields)]
pub struct Iris {
    /// Sepal length, cm.
    #[validate(range(min = 0.0, max = 10.0))]
    pub sepal_length: f64,
    /// Sepal width, cm.
    #[validate(range(min = 0.0, max = 10.0))]
    pub sepal_width: f64,
    /// Petal length, cm.
    #[validate(range(min = 0.0, max = 10.0))]
    pub petal_length: f64,
    /// Petal width, cm.
    #[validate(range(min = 0.0, max = 10.0))]
    pub petal_width: f64,
}

/// The body of `POST /encrypt`.
#[derive(Debug, Deserialize, Validate)]
#[validate(crate = "mlguard::validator")]
#[serde(deny_unknown_fields)]
pub struct Plaintext {
    /// What to encrypt.
    #[validate(length(min = 1, max = 4096))]
    pub text: String,
}

async fn predict(principal: Principal, ValidatedJson(iris): ValidatedJson<Iris>) -> Json<Value> {
    let class = match (iris.petal_length, iris.petal_width) {
        (l, _) if l < 2.5 => "setosa",
        (_, w) if w < 1.75 => "versicolor",
        _ => "virginica",
    };
    Json(json!({ "class": class, "caller": principal.subject() }))
}

async fn encrypt(
    Extension(fernet): Extension<Arc<Fernet>>,
    ValidatedJson(p): ValidatedJson<Plaintext>,
) -> Json<Value> {
    // Step 5: Fernet, byte-compatible with Python's `cryptography`.
    Json(json!({ "token": fernet.encrypt(p.text.as_bytes()) }))
}

/// The app: `keys` holds the API keys (roles `user` and anything else), `fernet` the key for
/// `/encrypt`. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`: the
/// per-address limit reads the peer address.
pub fn app(keys: Arc<dyn KeyStore>, fernet: Fernet) -> Result<Router, Box<dyn std::error::Error>> {
    // Step 1: authentication. API keys here; `.bearer(BearerAuth::new(verifier))` adds JWTs.
    let auth = AuthLayer::new().api_key(ApiKeyAuth::new(keys).realm("quickstart"));

    // Step 2: a permission, deny by default for everyone the policy does not grant it.
    let policy = Policy::builder()
        .role("user", ["model:predict", "crypto:encrypt"])
        .build()?;
    let authz = Authorizer::new(policy).challenge(WwwAuthenticate::new("ApiKey").realm("quickstart"));

    // Step 3: a per-principal quota, and a per-address limit outside authentication.
    let per_principal = RateLimitLayer::builder()
        .quota("5/minute")
        .key(KeyExtractor::principal())
        .policy_name("predict")
        .build()?;
    let per_address = RateLimitLayer::builder()
        .quota("120/minute")
        .key(KeyExtractor::client_ip(ClientIpResolver::new()))
        .policy_name("address")
        .build()?;

    // ServiceBuilder reads outermost first: authenticate, authorize, then charge the quota
    // (see mlguard::ordering).
    let predict_route = Router::new().route("/predict", post(predict)).route_layer(
        ServiceBuilder::new()
            .layer(auth.clone())
            .layer(RequirePermissionLayer::try_new(&authz, "model:predict")?)
            .layer(per_principal),
    );
    let encrypt_route = Router::new().route("/encrypt", post(encrypt)).route_layer(
        ServiceBuilder::new()
            .layer(auth)
            .layer(RequirePermissionLayer::try_new(&authz, "crypto:encrypt")?),
    );
    let routes = Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(predict_route)
        .merge(encrypt_route)
        .layer(Extension(Arc::new(fernet)))
        .layer(per_address);

    // Step 6: mlguard-http's edge protections: request ids, security headers, problem bodies
    // for the framework's own errors, and paths made canonical before routing.
    let edge = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(SecurityHeadersLayer::new())
        .layer(ProblemBodiesLayer::new());
    Ok(Router::new()
        .fallback_service(CanonicalPathLayer::new().layer(routes))
        .layer(edge))
}
