//! OpenAPI (utoipa) pieces for the [`Problem`](crate::Problem) body every mlguard layer refuses
//! with (feature `openapi`): its schema, a problem response, and a pass that documents the
//! refusals a service's layers can give on every operation; and a pass that documents the
//! trailing-slash aliases of routes ([`add_trailing_slash_aliases`]).
//!
//! What it protects against: an API document that lists only the happy path, so clients (and
//! fuzzers such as schemathesis) meet undocumented 401/413/503 bodies; with [`add_problem_responses`]
//! every operation says which problem answers its layers can give, in one shape.
//!
//! ```
//! use mlguard_core::openapi::{ProblemDoc, add_problem_responses};
//! use utoipa::OpenApi;
//!
//! #[utoipa::path(get, path = "/items", responses((status = 200, description = "The items")))]
//! #[allow(dead_code)]
//! fn items() {}
//!
//! #[derive(OpenApi)]
//! #[openapi(paths(items), components(schemas(ProblemDoc)))]
//! struct Doc;
//!
//! let mut doc = Doc::openapi();
//! add_problem_responses(&mut doc, &[("413", "The body is too large")], &[("401", "No credentials")]);
//! let op = doc.paths.paths["/items"].get.as_ref().unwrap();
//! assert!(op.responses.responses.contains_key("413"));
//! assert!(!op.responses.responses.contains_key("401")); // the operation has no security
//! ```

use crate::PROBLEM_JSON;
use http::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{Content, OpenApi, PathItem, Ref, RefOr, Response};

/// An RFC 9457 problem body (`application/problem+json`), as every error except the token
/// endpoint's is answered, documented under the schema name `Problem`. Extra members may
/// follow (`errors` for validation failures).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[schema(example = "about:blank")]
    pub r#type: String,
    /// The status's reason phrase.
    #[schema(example = "Unauthorized")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 401)]
    pub status: u16,
    /// What went wrong, for humans (FastAPI clients read this member).
    #[schema(example = "Not authenticated")]
    pub detail: String,
    /// A URI for this occurrence.
    #[schema(nullable = false)]
    pub instance: Option<String>,
}

/// A response with `description` and a [`PROBLEM_JSON`] body of schema `Problem` ([`ProblemDoc`]).
pub fn problem_response(description: &str) -> RefOr<Response> {
    let schema = RefOr::Ref(Ref::from_schema_name("Problem"));
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(PROBLEM_JSON, Content::new(Some(schema)))
            .build(),
    )
}

/// Adds a [`problem_response`] for each `(status, description)` of `every` to every operation
/// of `doc`, and those of `protected` to the operations that declare a security requirement.
/// An operation's own description of a status wins.
pub fn add_problem_responses(doc: &mut OpenApi, every: &[(&str, &str)], protected: &[(&str, &str)]) {
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let is_protected = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let extra = protected.iter().filter(|_| is_protected);
            for (status, description) in every.iter().chain(extra) {
                op.responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| problem_response(description));
            }
        }
    }
}

/// The operations of a path item, mutable, in a fixed method order.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
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
pub fn operations(item: &PathItem) -> BTreeMap<Method, &Operation> {
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

/// Documents each of `paths` a second time with a trailing `/` (for a route served under both
/// spellings, as clients written against another server may call either), as a copy whose
/// operation ids end in `_slash`: an OpenAPI document needs unique operation ids, and a route
/// that answers but is missing from the document is a route clients and fuzzers never test.
/// A path not in the document is skipped.
///
/// ```
/// use mlguard_core::openapi::add_trailing_slash_aliases;
/// use utoipa::OpenApi;
///
/// #[utoipa::path(post, path = "/encrypt", operation_id = "encrypt", responses((status = 200, description = "Done")))]
/// #[allow(dead_code)]
/// fn encrypt() {}
///
/// #[derive(OpenApi)]
/// #[openapi(paths(encrypt))]
/// struct Doc;
///
/// let mut doc = Doc::openapi();
/// add_trailing_slash_aliases(&mut doc, &["/encrypt", "/absent"]);
/// let alias = doc.paths.paths["/encrypt/"].post.as_ref().unwrap();
/// assert_eq!(alias.operation_id.as_deref(), Some("encrypt_slash"));
/// assert!(!doc.paths.paths.contains_key("/absent/"));
/// ```
pub fn add_trailing_slash_aliases(doc: &mut OpenApi, paths: &[&str]) {
    for path in paths {
        let Some(mut alias) = doc.paths.paths.get(*path).cloned() else {
            continue;
        };
        for op in operations_mut(&mut alias) {
            if let Some(id) = &op.operation_id {
                op.operation_id = Some(format!("{id}_slash"));
            }
        }
        doc.paths.paths.insert(format!("{path}/"), alias);
    }
}
