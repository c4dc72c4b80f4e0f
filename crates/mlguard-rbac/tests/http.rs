//! The layers, the guard and the extractors over axum: status codes, problem bodies and
//! challenges, dry-run, and one round trip over a real TCP connection.
#![cfg(feature = "axum")]

use axum::body::Body;
use axum::extract::FromRef;
use axum::middleware::{self, Next};
use axum::routing::{get, post};
use axum::{Router, response::Response};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use mlguard_core::{AuthMethod, Principal, WwwAuthenticate};
use mlguard_rbac::{
    Authorized, Authorizer, GuardLayer, HasRole, PermissionMap, Policy, RequirePermissionLayer,
    RequireRoleLayer, permission_marker, role_marker,
};
use serde_json::Value;
use tower::ServiceExt;

permission_marker!(ModelPredict = "model:predict");
permission_marker!(KeysCreate = "keys:create");
role_marker!(Admin = "admin");
role_marker!(Undefined = "no-such-role");

fn policy() -> Policy {
    Policy::from_toml_file(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.toml")).unwrap()
}

fn authz() -> Authorizer {
    Authorizer::new(policy()).challenge(WwwAuthenticate::bearer().realm("ml-api"))
}

/// Stand-in authentication: `x-role` (comma separated), `x-scope` (space separated),
/// `x-auth: bearer|api_key`; without `x-role`, the request goes on marked `Anonymous`.
async fn fake_auth(mut req: Request<Body>, next: Next) -> Response {
    let headers = req.headers().clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let Some(roles) = header("x-role") {
        let method = match header("x-auth").as_deref() {
            Some("api_key") => AuthMethod::ApiKey { key_id: "k-1".into() },
            _ => AuthMethod::Bearer {
                token_id: Some("jti-secretish".into()),
            },
        };
        let mut p = Principal::builder("alice")
            .roles(roles.split(',').filter(|r| !r.is_empty()).map(str::to_owned))
            .method(method);
        if let Some(scope) = header("x-scope") {
            p = p.scopes(scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
        }
        let p = p.build();
        req.extensions_mut().insert(p);
    } else {
        // Optional authentication: no credentials, let through marked anonymous.
        req.extensions_mut().insert(mlguard_core::Anonymous);
    }
    next.run(req).await
}

#[derive(Clone, FromRef)]
struct AppState {
    authz: Authorizer,
}

async fn predict(auth: Authorized<ModelPredict>) -> String {
    format!(
        "predicted for {}",
        auth.principal().map_or("nobody", |p| p.subject())
    )
}

async fn create_key(_auth: Authorized<KeysCreate>) -> &'static str {
    "created"
}

async fn admin_only(_auth: HasRole<Admin>) -> &'static str {
    "admin"
}

async fn broken(_auth: HasRole<Undefined>) -> &'static str {
    "never"
}

fn extractor_app(authz: Authorizer) -> Router {
    Router::new()
        .route("/predict", post(predict))
        .route("/keys", post(create_key))
        .route("/admin", get(admin_only))
        .route("/broken", get(broken))
        .with_state(AppState { authz })
        .layer(middleware::from_fn(fake_auth))
}

fn layer_app(authz: &Authorizer) -> Router {
    Router::new()
        .route(
            "/predict",
            post(|| async { "ok" }).layer(RequirePermissionLayer::try_new(authz, "model:predict").unwrap()),
        )
        .route(
            "/admin",
            get(|| async { "ok" }).layer(RequireRoleLayer::try_new(authz, "admin").unwrap()),
        )
        .layer(middleware::from_fn(fake_auth))
}

fn guarded_app(authz: &Authorizer) -> Router {
    let map = PermissionMap::builder()
        .public(Method::GET, "/health")
        .permission(Method::POST, "/predict", "model:predict")
        .permission(Method::GET, "/models/{id}", "model:read")
        .permission(Method::DELETE, "/models/{id}", "model:delete")
        .authenticated(Method::GET, "/me")
        .role(Method::POST, "/keys", "admin")
        .build()
        .unwrap();
    let api = Router::new().route("/predict", post(|| async { "ok" })).route(
        "/models/{id}",
        get(|| async { "model" }).delete(|| async { "gone" }),
    );
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/me", get(|| async { "me" }))
        .route("/keys", post(|| async { "key" }))
        .route("/forgotten", get(|| async { "oops" }))
        .merge(api)
        .layer(GuardLayer::try_new(authz, map).unwrap())
        .layer(middleware::from_fn(fake_auth))
}

struct Call<'a> {
    method: &'a str,
    path: &'a str,
    role: Option<&'a str>,
    scope: Option<&'a str>,
    auth: &'a str,
}

fn call<'a>(method: &'a str, path: &'a str) -> Call<'a> {
    Call {
        method,
        path,
        role: None,
        scope: None,
        auth: "bearer",
    }
}

impl<'a> Call<'a> {
    fn role(mut self, role: &'a str) -> Self {
        self.role = Some(role);
        self
    }
    fn scope(mut self, scope: &'a str) -> Self {
        self.scope = Some(scope);
        self
    }
    fn api_key(mut self) -> Self {
        self.auth = "api_key";
        self
    }
    async fn send(self, app: &Router) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder()
            .method(self.method)
            .uri(self.path)
            .header("x-auth", self.auth);
        if let Some(r) = self.role {
            req = req.header("x-role", r);
        }
        if let Some(s) = self.scope {
            req = req.header("x-scope", s);
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes().to_vec();
        (parts.status, parts.headers, bytes)
    }
}

fn problem(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

/// Every app answers a missing principal with 401, the configured challenge and a problem body.
#[tokio::test]
async fn no_principal_is_401_with_the_configured_challenge() {
    let authz = authz();
    for (app, path) in [
        (extractor_app(authz.clone()), "/predict"),
        (layer_app(&authz), "/predict"),
        (guarded_app(&authz), "/predict"),
    ] {
        let (status, headers, body) = call("POST", path).send(&app).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers["www-authenticate"], r#"Bearer realm="ml-api""#);
        assert_eq!(headers["content-type"], "application/problem+json");
        let v = problem(&body);
        assert_eq!(v["status"], 401);
        assert_eq!(v["detail"], "Not authenticated");
    }
    // Default challenge, and a non-Bearer one from configuration.
    let plain = layer_app(&Authorizer::new(policy()));
    let (_, headers, _) = call("POST", "/predict").send(&plain).await;
    assert_eq!(headers["www-authenticate"], "Bearer");
    let apikey = layer_app(&Authorizer::new(policy()).challenge(WwwAuthenticate::new("ApiKey").realm("ml")));
    let (_, headers, _) = call("POST", "/predict").send(&apikey).await;
    assert_eq!(headers["www-authenticate"], r#"ApiKey realm="ml""#);
}

#[tokio::test]
async fn missing_permission_is_403_with_insufficient_scope_for_bearer_tokens() {
    let authz = authz();
    for app in [
        extractor_app(authz.clone()),
        layer_app(&authz),
        guarded_app(&authz),
    ] {
        let (status, headers, body) = call("POST", "/predict").role("guest").send(&app).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            headers["www-authenticate"],
            r#"Bearer realm="ml-api", error="insufficient_scope", scope="model:predict""#
        );
        assert_eq!(headers["content-type"], "application/problem+json");
        let v = problem(&body);
        assert_eq!(v["status"], 403);
        assert_eq!(v["title"], "Forbidden");
        assert_eq!(v["detail"], "Not enough permissions");
        assert_eq!(v["required_permission"], "model:predict");
        assert_eq!(v["reason"], "not_granted");
        // No credential material in the body.
        assert!(!String::from_utf8_lossy(&body).contains("jti-secretish"));

        // API-key principals get the 403 without a Bearer challenge.
        let (status, headers, _) = call("POST", "/predict").role("guest").api_key().send(&app).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(headers.get("www-authenticate").is_none());

        // Allowed.
        let (status, _, _) = call("POST", "/predict").role("user").send(&app).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = call("POST", "/predict").role("admin").send(&app).await;
        assert_eq!(status, StatusCode::OK, "admin inherits user");
    }
}

#[tokio::test]
async fn a_down_scoped_token_cannot_do_more_than_its_scope() {
    let authz = authz();
    let app = extractor_app(authz.clone());
    let (status, _, body) = call("POST", "/predict")
        .role("admin")
        .scope("model:predict")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"predicted for alice");
    let (status, headers, body) = call("POST", "/keys")
        .role("admin")
        .scope("model:predict")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer realm="ml-api", error="insufficient_scope", scope="keys:create""#
    );
    assert_eq!(problem(&body)["reason"], "outside_scope");
    let (status, _, _) = call("POST", "/keys")
        .role("admin")
        .scope("keys:*")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::OK);
    // A scoped admin token does not pass an admin role check either.
    let (status, headers, body) = call("GET", "/admin")
        .role("admin")
        .scope("model:predict")
        .send(&app)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        headers["www-authenticate"],
        r#"Bearer realm="ml-api", error="insufficient_scope""#
    );
    assert_eq!(problem(&body)["required_role"], "admin");
}

#[tokio::test]
async fn role_requirements() {
    let authz = authz();
    for app in [extractor_app(authz.clone()), layer_app(&authz)] {
        assert_eq!(
            call("GET", "/admin").role("admin").send(&app).await.0,
            StatusCode::OK
        );
        assert_eq!(
            call("GET", "/admin").role("operator").send(&app).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(call("GET", "/admin").send(&app).await.0, StatusCode::UNAUTHORIZED);
    }
    // An extractor naming an undefined role: 500, never a pass.
    let app = extractor_app(authz);
    let (status, _, body) = call("GET", "/broken").role("admin").send(&app).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(problem(&body)["detail"], "Authorization is misconfigured");
}

#[tokio::test]
async fn guard_denies_unmapped_routes_and_uses_route_templates() {
    let app = guarded_app(&authz());
    // Public needs no principal.
    assert_eq!(call("GET", "/health").send(&app).await.0, StatusCode::OK);
    assert_eq!(call("HEAD", "/health").send(&app).await.0, StatusCode::OK);
    // A route that exists but is not in the map: 403 even for root.
    let (status, headers, body) = call("GET", "/forgotten").role("root").send(&app).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("www-authenticate").is_none());
    assert_eq!(problem(&body)["reason"], "unmapped_route");
    // A method not mapped on a mapped path.
    assert_eq!(
        call("PUT", "/predict").role("root").send(&app).await.0,
        StatusCode::FORBIDDEN
    );
    // A path that matches no route at all.
    assert_eq!(
        call("GET", "/nope").role("root").send(&app).await.0,
        StatusCode::FORBIDDEN
    );
    // Templated routes are matched by template, per method.
    assert_eq!(
        call("GET", "/models/iris").role("guest").send(&app).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call("GET", "/models/x%2Fy").role("guest").send(&app).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call("DELETE", "/models/iris").role("admin").send(&app).await.0,
        StatusCode::FORBIDDEN,
        "admin lacks model:delete"
    );
    assert_eq!(
        call("DELETE", "/models/iris").role("root").send(&app).await.0,
        StatusCode::OK
    );
    // Authenticated and role entries.
    assert_eq!(call("GET", "/me").send(&app).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call("GET", "/me").role("nothing").send(&app).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call("POST", "/keys").role("operator").send(&app).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call("POST", "/keys").role("admin").send(&app).await.0,
        StatusCode::OK
    );
}

#[test]
fn guard_and_layers_reject_bad_configuration_at_construction() {
    let authz = authz();
    let map = PermissionMap::builder()
        .role(Method::GET, "/x", "ghost")
        .build()
        .unwrap();
    assert!(matches!(
        GuardLayer::try_new(&authz, map),
        Err(mlguard_rbac::RbacError::UnknownRole { .. })
    ));
    assert!(matches!(
        PermissionMap::builder()
            .permission(Method::GET, "/x", "X")
            .build(),
        Err(mlguard_rbac::RbacError::InvalidPermission { .. })
    ));
    assert!(matches!(
        PermissionMap::builder().public(Method::GET, "x").build(),
        Err(mlguard_rbac::RbacError::InvalidRoutePath { .. })
    ));
    assert!(matches!(
        PermissionMap::builder()
            .public(Method::GET, "/x")
            .permission(Method::GET, "/x", "a:b")
            .build(),
        Err(mlguard_rbac::RbacError::DuplicateRoute { .. })
    ));
    assert!(RequirePermissionLayer::try_new(&authz, "model").is_err());
    assert!(RequireRoleLayer::try_new(&authz, "ghost").is_err());
}

#[tokio::test]
async fn dry_run_lets_everything_through() {
    let dry = authz().dry_run(true);
    for app in [extractor_app(dry.clone()), layer_app(&dry), guarded_app(&dry)] {
        let (status, headers, _) = call("POST", "/predict").role("guest").send(&app).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.get("www-authenticate").is_none());
        assert_eq!(call("POST", "/predict").send(&app).await.0, StatusCode::OK);
    }
    let app = extractor_app(dry.clone());
    let (_, _, body) = call("POST", "/predict").send(&app).await;
    assert_eq!(body, b"predicted for nobody");
    assert_eq!(
        call("GET", "/forgotten").send(&guarded_app(&dry)).await.0,
        StatusCode::OK
    );
    // A per-layer override: this route enforces although the authorizer is in dry run.
    let enforcing = Router::new()
        .route(
            "/predict",
            post(|| async { "ok" }).layer(
                RequirePermissionLayer::try_new(&dry, "model:predict")
                    .unwrap()
                    .dry_run(false),
            ),
        )
        .layer(middleware::from_fn(fake_auth));
    assert_eq!(
        call("POST", "/predict").role("guest").send(&enforcing).await.0,
        StatusCode::FORBIDDEN
    );
}

/// The same rules over a real socket and a real HTTP client.
#[tokio::test]
async fn over_real_http() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = guarded_app(&authz());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let url = |p: &str| format!("http://{addr}{p}");

    let res = client.post(url("/predict")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="ml-api""#);

    let res = client
        .post(url("/predict"))
        .header("x-role", "admin")
        .header("x-scope", "keys:*")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="ml-api", error="insufficient_scope", scope="model:predict""#
    );
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["reason"], "outside_scope");

    let res = client
        .post(url("/predict"))
        .header("x-role", "user")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
    server.abort();
}
