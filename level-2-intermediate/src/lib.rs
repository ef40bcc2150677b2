//! Level 2 of *Worker Threads in Rust*: pools, moving data, channels and observability.
//!
//! This level is being written; its plan is in the workspace README. Its lessons will build on
//! [`shared`].
