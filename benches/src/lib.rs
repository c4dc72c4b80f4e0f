//! Shared fixtures for the mlguard benches, and the live-server harness of the soak test and
//! the login-flood benchmark.

pub mod live;
