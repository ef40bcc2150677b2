//! (being written) A counting global allocator.
