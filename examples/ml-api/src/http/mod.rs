//! HTTP hardening a user should not have to add, one small module per concern.
//!
//! | module | what it stops |
//! |---|---|
//! | [`path`] | `//predict`, `/%70redict`, `/a/../predict`: non-canonical paths reaching a route without its requirements |
//! | [`headers`] | clickjacking, MIME sniffing, script injection, downgrade to HTTP, caching of credentialed responses |
//! | [`limits`] | large bodies, slow requests, too many requests at once (load is shed with 503, never queued forever) |
//! | [`access_log`] | credentials (`Authorization`, `X-API-Key`, cookies) reaching the logs |
//! | [`request_id`] | untraceable requests: every request and response carries an `x-request-id` |
//! | [`problem`] | framework error bodies (plain text) that differ from every other error |

pub mod access_log;
pub mod headers;
pub mod limits;
pub mod path;
pub mod problem;
pub mod request_id;
