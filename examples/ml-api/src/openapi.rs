//! The OpenAPI 3.1 document (`GET /openapi.json`) and the interactive docs page (`GET /docs`).
//!
//! The document is generated with [utoipa] from the code: the request and response types derive
//! `ToSchema` (the token endpoint's come from mlguard-auth's `openapi` feature), the handlers
//! carry `#[utoipa::path]`, and [`ApiDoc`]'s modifiers add what every
//! route shares (the security schemes, the problem bodies the hardening layers can answer, the
//! trailing-slash aliases `/encrypt/` and `/decrypt/`).
//!
//! Security schemes (mlguard-auth's `openapi::SecuritySchemes`): [`OAUTH2`] (password flow,
//! `tokenUrl: /token`), [`BEARER`] (HTTP bearer, JWT) and [`API_KEY`] (`X-API-Key` header). A
//! protected operation lists all three as alternatives; a public one lists none. The problem
//! answers are added by mlguard-core's `openapi::add_problem_responses`.
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
use http::HeaderValue;
use http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use mlguard_auth::openapi::SecuritySchemes;
pub use mlguard_auth::openapi::{API_KEY, BEARER, OAUTH2};
use mlguard_auth::token::{OAuthErrorBody, OAuthErrorCode, TokenRequestForm, TokenSuccessBody};
pub use mlguard_core::openapi::operations;
use mlguard_core::openapi::{add_problem_responses, add_trailing_slash_aliases};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the interactive page is served (`/docs` redirects to `/docs/`).
pub const DOCS_PATH: &str = "/docs";

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
        mlguard_core::openapi::ProblemDoc,
        OAuthErrorBody,
        OAuthErrorCode,
        TokenRequestForm,
        TokenSuccessBody,
        crate::routes::health::StatusDoc
    )),
    modifiers(&SharedResponses),
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

/// The security schemes (mlguard-auth's, with this server's descriptions), the problem
/// answers every route can give (from the hardening layers) plus 401/403 on the protected ones,
/// and the trailing-slash aliases.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, doc: &mut Document) {
        SecuritySchemes::new("/token")
            .bearer_description("An access token from `POST /token` (HS256 JWT).")
            .api_key_description("An API key made with `ml-api apikey create` (`mlg_...`).")
            .modify(doc);
        let every = [
            ("400", "Malformed request or ambiguous path"),
            ("408", "The request took too long"),
            ("413", "The body is too large"),
            ("500", "The server failed"),
            ("503", "Overloaded (shed) or not ready"),
        ];
        let protected_only = [
            (
                "401",
                "No or bad credentials (with a `WWW-Authenticate` challenge)",
            ),
            ("403", "Authenticated, but the role lacks the permission"),
        ];
        add_problem_responses(doc, &every, &protected_only);
        // Documented as copies with their own operation ids (`encrypt_slash`, ...).
        add_trailing_slash_aliases(doc, &TRAILING_SLASH_ALIASES);
    }
}

/// Paths that also answer with a trailing `/` (the tutorial's clients call `/encrypt/` and
/// `/decrypt/`).
pub const TRAILING_SLASH_ALIASES: [&str; 2] = ["/encrypt", "/decrypt"];

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
