//! The implementation of each CLI verb.

pub mod apikey;
pub mod password;
pub mod serve;
pub mod train;
pub mod user;
