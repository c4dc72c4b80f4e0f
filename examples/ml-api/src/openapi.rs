//! The OpenAPI 3.1 document (`GET /openapi.json`) and the interactive docs page (`GET /docs`).
//!
//! The document is generated with [utoipa] from the code: the request and response types derive
//! `ToSchema` (the token endpoint's come from mlguard-auth's `openapi` feature), the handlers
//! carry `#[utoipa::path]`, and [`ApiDoc`]'s modifiers add what every
//! route shares (the security schemes, the problem bodies the hardening layers can answer, the
//! trailing-slash aliases `/encrypt/` and `/decrypt/`).
//!
//! Security schemes: [`OAUTH2`] (password flow, `tokenUrl: /token`), [`BEARER`] (HTTP bearer,
//! JWT) and [`API_KEY`] (`X-API-Key` header). A protected operation lists all three as
//! alternatives; a public one lists none.
//!
//! `/docs` is Swagger UI, compiled into the binary (`utoipa-swagger-ui` with its `vendored`
//! feature: no CDN at run time, no download at build time). Its responses carry their own CSP,
//! [`DOCS_CSP`], which allows the page's own scripts, styles and images and calls to this
//! origin only; every other response keeps the strict API CSP of
//! [`mlguard_http::headers`].
//!
//! ```
//! let doc = ml_api::openapi::document();
//! assert!(doc.paths.paths.contains_key("/predict"));
//! let json = serde_json::to_value(&doc).unwrap();
//! assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
//! ```

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use http::{HeaderValue, Method};
use mlguard_auth::token::{OAuthErrorBody, OAuthErrorCode, TokenRequestForm, TokenSuccessBody};
use std::collections::BTreeMap;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi as Document, PathItem, Ref, RefOr};
use utoipa::{Modify, OpenApi};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the interactive page is served (`/docs` redirects to `/docs/`).
pub const DOCS_PATH: &str = "/docs";
/// Name of the OAuth2 password-flow scheme.
pub const OAUTH2: &str = "oauth2_password";
/// Name of the HTTP bearer (JWT) scheme.
pub const BEARER: &str = "bearer_jwt";
/// Name of the `X-API-Key` header scheme.
pub const API_KEY: &str = "api_key";
/// The media type of RFC 9457 problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The CSP of the docs page: its own scripts and style sheets, plus the one `<style>` element
/// the Swagger UI bundle inserts (allowed by its hash, [`SWAGGER_UI_STYLE_HASH`], not by
/// `'unsafe-inline'`), its own images and `data:` icons, requests to this origin only, never
/// framed, no forms posted anywhere. `tests/browser.rs` fails on any violation.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The SHA-256 (base64) of the `<style>` element Swagger UI 5.32.6 (`utoipa-swagger-ui-vendored`
/// 0.2.0) inserts; a new Swagger UI may need a new hash (the browser test names the directive).
pub const SWAGGER_UI_STYLE_HASH: &str = "sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=";

/// The generated document; see the [module docs](self).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ml-api",
        description = "The mlguard example server: an iris classifier and Fernet encryption \
            behind authentication (OAuth2 password grant, bearer JWT, X-API-Key), RBAC, rate \
            limits and input validation. Errors are RFC 9457 problem bodies; `POST /token` \
            answers errors in RFC 6749's JSON.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        token,
        crate::routes::predict::predict,
        crate::routes::predict::batch,
        crate::routes::crypto::encrypt,
        crate::routes::crypto::decrypt,
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::metrics::metrics,
        openapi_json,
    ),
    components(schemas(
        crate::routes::ProblemDoc,
        OAuthErrorBody,
        OAuthErrorCode,
        TokenRequestForm,
        TokenSuccessBody,
        crate::routes::health::StatusDoc
    )),
    modifiers(&SecuritySchemes, &SharedResponses, &TrailingSlashAliases),
    tags(
        (name = "auth", description = "Tokens"),
        (name = "model", description = "The iris classifier"),
        (name = "crypto", description = "Fernet encryption with the server's key"),
        (name = "ops", description = "Health, readiness, metrics, this document")
    )
)]
pub struct ApiDoc;

/// `POST /token`: documented here, served by mlguard-auth's `token_route` (mounted in
/// [`crate::app::api_router`]).
#[utoipa::path(
    post,
    path = "/token",
    tag = "auth",
    operation_id = "token",
    summary = "Get a token (OAuth2 password or refresh_token grant)",
    description = "Limited per client IP and per username (`MLGUARD_TOKEN_RATE`). Unknown users \
        and wrong passwords get the same `invalid_grant` answer. Answers carry \
        `Cache-Control: no-store`.",
    request_body(content = TokenRequestForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = TokenSuccessBody),
        (status = 400, description = "RFC 6749 error", body = OAuthErrorBody),
        (status = 429, description = "Too many logins", body = crate::routes::ProblemDoc, content_type = "application/problem+json"),
        (status = 503, description = "Too many password checks in progress (`temporarily_unavailable`, with `Retry-After`)", body = OAuthErrorBody),
    )
)]
#[allow(dead_code)] // documentation only
fn token() {}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "ops",
    operation_id = "openapi",
    summary = "This OpenAPI document",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
#[allow(dead_code)] // documentation only
fn openapi_json() {}

/// Adds the three security schemes.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/token", Scopes::new()))],
                "OAuth2 password grant at `/token`; the access token is then sent as a bearer token.",
            )),
        );
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /token` (HS256 JWT)."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key made with `ml-api apikey create` (`mlg_...`).",
            ))),
        );
    }
}

/// The security requirement of every protected operation: any one of the three schemes.
pub fn protected() -> Vec<SecurityRequirement> {
    [OAUTH2, BEARER, API_KEY]
        .into_iter()
        .map(|name| SecurityRequirement::new::<_, [&str; 0], &str>(name, []))
        .collect()
}

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))),
            )
            .build(),
    )
}

/// The problem answers every route can give (from the hardening layers), and 401/403 on the
/// protected ones. An operation's own description of a status wins.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, doc: &mut Document) {
        let every: [(&str, &str); 5] = [
            ("400", "Malformed request or ambiguous path"),
            ("408", "The request took too long"),
            ("413", "The body is too large"),
            ("500", "The server failed"),
            ("503", "Overloaded (shed) or not ready"),
        ];
        let protected_only: [(&str, &str); 2] = [
            (
                "401",
                "No or bad credentials (with a `WWW-Authenticate` challenge)",
            ),
            ("403", "Authenticated, but the role lacks the permission"),
        ];
        for item in doc.paths.paths.values_mut() {
            for op in operations_mut(item) {
                let is_protected = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let extra = protected_only.iter().filter(|_| is_protected);
                for (status, description) in every.iter().chain(extra) {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| problem_response(description));
                }
            }
        }
    }
}

/// `/encrypt/` and `/decrypt/` answer like `/encrypt` and `/decrypt` (the tutorial's clients
/// call the slash forms); documented as copies with their own operation ids.
struct TrailingSlashAliases;

impl Modify for TrailingSlashAliases {
    fn modify(&self, doc: &mut Document) {
        for path in TRAILING_SLASH_ALIASES {
            let Some(item) = doc.paths.paths.get(path).cloned() else {
                continue;
            };
            let mut alias = item;
            for op in operations_mut(&mut alias) {
                if let Some(id) = &op.operation_id {
                    op.operation_id = Some(format!("{id}_slash"));
                }
            }
            doc.paths.paths.insert(format!("{path}/"), alias);
        }
    }
}

/// Paths that also answer with a trailing `/`.
pub const TRAILING_SLASH_ALIASES: [&str; 2] = ["/encrypt", "/decrypt"];

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The operations of a path item with their methods.
pub fn operations(item: &PathItem) -> BTreeMap<Method, &utoipa::openapi::path::Operation> {
    [
        (Method::GET, item.get.as_ref()),
        (Method::PUT, item.put.as_ref()),
        (Method::POST, item.post.as_ref()),
        (Method::DELETE, item.delete.as_ref()),
        (Method::OPTIONS, item.options.as_ref()),
        (Method::HEAD, item.head.as_ref()),
        (Method::PATCH, item.patch.as_ref()),
        (Method::TRACE, item.trace.as_ref()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// The document, built from the code.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// `GET /openapi.json` and `GET /docs` (Swagger UI from the binary, with [`DOCS_CSP`]).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let json: Bytes = serde_json::to_vec(&document())
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"));
    let spec = Router::new().route(
        OPENAPI_PATH,
        get(move || {
            let json = json.clone();
            async move {
                (
                    [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                    json,
                )
            }
        }),
    );
    let ui = utoipa_swagger_ui::Config::from(OPENAPI_PATH)
        .persist_authorization(false)
        .display_request_duration(true);
    let docs: Router<S> = Router::from(utoipa_swagger_ui::SwaggerUi::new(DOCS_PATH).config(ui)).layer(
        SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP)),
    );
    spec.merge(docs)
}
