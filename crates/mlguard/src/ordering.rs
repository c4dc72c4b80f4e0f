//! Ordering: where authentication, quotas, permissions and validation go.
