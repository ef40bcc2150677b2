//! Level 3 of *Worker Threads in Rust*: shared memory, synchronisation and production.
//!
//! This level is being written; its plan is in the workspace README. Its lessons will build on
//! [`shared`].
