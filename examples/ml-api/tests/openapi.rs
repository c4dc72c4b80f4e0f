//! The OpenAPI document: valid OpenAPI 3.1 (parsed by `oas3`, every `$ref` resolves, every
//! operation answers something, the security schemes as specified), and in step with the router:
//! every route the router serves is documented, with exactly the methods it serves, and each
//! operation's security requirement matches what the running server demands. Also: `/docs` is
//! served from the binary with its own CSP, and the API keeps the strict one.

mod common;

use common::*;
use ml_api::openapi::{API_KEY, BEARER, DOCS_CSP, DOCS_PATH, OAUTH2, OPENAPI_PATH};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn document_json() -> Value {
    serde_json::to_value(ml_api::openapi::document()).unwrap()
}

/// Every `$ref` in `v`, with the JSON path where it appears.
fn refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "$ref" {
                    if let Some(r) = child.as_str() {
                        out.push((at.clone(), r));
                    }
                } else {
                    refs(child, format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(path, method)` -> operation, for every operation in the document.
fn operations(doc: &Value) -> BTreeMap<(String, String), &Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.insert((path.clone(), m.to_uppercase()), op);
            }
        }
    }
    out
}

#[test]
fn document_is_valid_openapi_3_1() {
    let doc = document_json();

    // A typed parse by a maintained OpenAPI 3.1 model. oas3 types `tokenUrl` as an absolute
    // URL, while OpenAPI 3.1 allows relative references resolved against the server URL
    // (section 4.6.1.1): resolve it the way a client would before handing it over.
    let mut absolute = doc.clone();
    absolute["components"]["securitySchemes"][OAUTH2]["flows"]["password"]["tokenUrl"] =
        Value::from("https://127.0.0.1:8443/token");
    let text = serde_json::to_string(&absolute).unwrap();
    let spec = oas3::from_json(&text).expect("parses as OpenAPI 3.1");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    assert!(!doc["info"]["title"].as_str().unwrap().is_empty());
    assert!(!doc["info"]["version"].as_str().unwrap().is_empty());

    // Every $ref points into this document and resolves.
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(!found.is_empty(), "schemas are referenced, not inlined");
    for (at, r) in &found {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "{at}: $ref {r} does not resolve");
    }

    // Every operation: a unique id, at least one response, a 2xx among them; every response
    // has a description (required by the spec).
    let mut ids = BTreeSet::new();
    for ((path, method), op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: no success response"
        );
        for (status, r) in responses {
            assert!(
                r["description"].is_string(),
                "{method} {path} {status}: no description"
            );
        }
        for requirement in op["security"].as_array().into_iter().flatten() {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(
                    doc["components"]["securitySchemes"][scheme].is_object(),
                    "{method} {path}: unknown scheme {scheme}"
                );
            }
        }
    }

    // The security schemes, as specified.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes[OAUTH2]["type"], "oauth2");
    assert_eq!(schemes[OAUTH2]["flows"]["password"]["tokenUrl"], "/token");
    assert_eq!(schemes[BEARER]["type"], "http");
    assert_eq!(schemes[BEARER]["scheme"], "bearer");
    assert_eq!(schemes[BEARER]["bearerFormat"], "JWT");
    assert_eq!(schemes[API_KEY]["type"], "apiKey");
    assert_eq!(schemes[API_KEY]["in"], "header");
    assert_eq!(schemes[API_KEY]["name"], "X-API-Key");

    // The token endpoint takes a form and answers RFC 6749 errors; others answer problems.
    let token = &doc["paths"]["/token"]["post"];
    assert!(token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    assert_eq!(
        token["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OAuthError"
    );
    // Its codes are the crate's, not a copy that can drift.
    assert_eq!(
        doc["components"]["schemas"]["OAuthError"]["properties"]["error"]["$ref"],
        "#/components/schemas/OAuthErrorCode"
    );
    let codes: Vec<&str> = mlguard_auth::token::OAuthErrorCode::ALL
        .map(|c| c.as_str())
        .to_vec();
    assert_eq!(
        doc["components"]["schemas"]["OAuthErrorCode"]["enum"],
        serde_json::json!(codes)
    );
    assert_eq!(
        doc["paths"]["/predict"]["post"]["responses"]["401"]["content"]["application/problem+json"]["schema"]
            ["$ref"],
        "#/components/schemas/Problem"
    );
    let problem = &doc["components"]["schemas"]["Problem"];
    for member in ["type", "title", "status", "detail"] {
        assert!(problem["properties"][member].is_object(), "Problem.{member}");
    }
    // The prediction schemas come from the real types (unknown fields refused there).
    let features = &doc["components"]["schemas"]["IrisFeatures"];
    assert_eq!(features["additionalProperties"], false);
    assert_eq!(features["required"].as_array().unwrap().len(), 4);
    assert!(doc["components"]["schemas"]["PredictResponse"]["properties"]["probabilities"].is_object());
}

/// The paths the router serves: read from axum's own route table (its `Debug` output names
/// each route's path), for the router the server really builds.
fn served_paths() -> BTreeSet<String> {
    use ml_api::config::Config;
    let dir = tempfile::tempdir().unwrap();
    let config = Config::resolve(settings(&dir.path().join("data")), None).unwrap();
    let boot = ml_api::bootstrap::bootstrap(&config).unwrap();
    let state = ml_api::state::AppState::new(Some(boot.model.clone()), boot.fernet.clone(), config.max_batch);
    let json = ml_api::app::json_config(&config).unwrap();
    let quotas = ml_api::quotas::Quotas::from_config(&config).unwrap();
    let auth = ml_api::auth::Auth::new(
        &boot.data_dir,
        &boot.jwt_secret,
        config.access_token_ttl,
        config.refresh_token_ttl,
    )
    .unwrap();
    let metrics = ml_api::metrics::Metrics::new(Some(&quotas));
    let router = ml_api::app::api_router(state, json, &quotas, &auth, &metrics, axum::Router::new()).unwrap();
    let debug = format!("{router:?}");
    // The routes, not the fallback router (which lists its own catch-all path).
    let routes = debug.split("fallback_router").next().unwrap();
    let mut paths = BTreeSet::new();
    for piece in routes.split('"').skip(1).step_by(2) {
        if piece.starts_with('/') {
            paths.insert(piece.to_owned());
        }
    }
    assert!(
        paths.contains("/predict") && paths.contains("/token"),
        "axum's Debug output no longer lists routes; update served_paths: {debug}"
    );
    paths
}

#[test]
fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let doc = document_json();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let served = served_paths();
    // Swagger UI's own page and assets are the documentation itself, not API.
    let ui: BTreeSet<String> = [
        DOCS_PATH.to_owned(),
        format!("{DOCS_PATH}/"),
        format!("{DOCS_PATH}/{{*rest}}"),
    ]
    .into();
    let api: BTreeSet<String> = served.difference(&ui).cloned().collect();
    assert!(ui.is_subset(&served), "the docs UI is mounted: {served:?}");
    // Deny by default: a served route without an entry in the permission map answers 403.
    let map = ml_api::app::permissions().unwrap();
    for path in &served {
        assert!(
            map.lookup(&http::Method::GET, path).is_some(),
            "{path} is served but has no entry in app::permissions (every request gets 403)"
        );
    }
    let undocumented: Vec<_> = api.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&api).collect();
    assert!(unserved.is_empty(), "documented but not served: {unserved:?}");
    assert!(documented.contains(OPENAPI_PATH));
}

#[tokio::test]
async fn methods_and_security_match_the_running_server() {
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.predict_rate = Some("1000/minute".into());
        c.token_rate = Some("1000/minute".into());
    })
    .await;
    let key = s.api_key("probe", "admin");
    let doc = document_json();
    let ops = operations(&doc);
    let all: BTreeSet<String> = [OAUTH2, BEARER, API_KEY].map(str::to_owned).into();
    for path in doc["paths"].as_object().unwrap().keys() {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            // With admin's credentials every check passes: only the routing answers 404/405.
            let r = s
                .client
                .request(m.clone(), s.url(path))
                .header("x-api-key", &key)
                .send()
                .await
                .unwrap();
            let with_key = r.status().as_u16();
            let Some(op) = ops.get(&(path.clone(), method.to_owned())) else {
                assert_eq!(with_key, 405, "{method} {path} is served but not documented");
                continue;
            };
            assert!(
                with_key != 404 && with_key != 405,
                "{method} {path} is documented but answers {with_key}"
            );
            // Without credentials: 401 exactly where the document asks for them, and then any
            // one of the three schemes will do.
            let without = s.client.request(m, s.url(path)).send().await.unwrap().status();
            let security: BTreeSet<String> = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|req| req.as_object().unwrap().keys().cloned())
                .collect();
            if without == 401 {
                assert_eq!(security, all, "{method} {path}: 401 but security is {security:?}");
            } else {
                assert!(
                    security.is_empty(),
                    "{method} {path}: {without} without credentials, but security is {security:?}"
                );
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn docs_and_document_are_served_with_their_own_csp() {
    let s = start_with(|c| c.no_tls = Some(true)).await;
    let r = s.get(OPENAPI_PATH).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.headers()["content-security-policy"],
        mlguard_http::headers::API_CSP
    );
    let served: Value = r.json().await.unwrap();
    assert_eq!(served, document_json());

    // The docs policy: nothing from elsewhere, no inline script, no eval; the one inline style
    // Swagger UI inserts is allowed by its hash only.
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(DOCS_CSP.contains(directive), "{directive}");
    }
    assert!(DOCS_CSP.contains(ml_api::openapi::SWAGGER_UI_STYLE_HASH));
    assert!(!DOCS_CSP.contains("unsafe-") && !DOCS_CSP.contains('*') && !DOCS_CSP.contains("http"));

    let r = s.get("/docs/").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(r.headers()["content-security-policy"], DOCS_CSP);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    // Everything the page loads comes from here: no absolute URL to another host.
    assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
    assert!(html.contains("swagger-ui-bundle.js"));

    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"] {
        let r = s.get(&format!("/docs/{asset}")).await;
        assert_eq!(r.status(), 200, "{asset}");
        assert_eq!(r.headers()["content-security-policy"], DOCS_CSP, "{asset}");
    }
    let init = s.get("/docs/swagger-initializer.js").await.text().await.unwrap();
    assert!(init.contains(OPENAPI_PATH), "{init}");

    // The API keeps the strict policy.
    let r = s.get("/healthz").await;
    assert_eq!(
        r.headers()["content-security-policy"],
        mlguard_http::headers::API_CSP
    );
    // `/docs` itself redirects to the page.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url(DOCS_PATH))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/docs/");
    s.stop().await;
}
