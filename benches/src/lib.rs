//! Shared fixtures for the mlguard benches.
