//! Level 1
