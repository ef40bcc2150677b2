//! (being written) A lock-free single-producer single-consumer ring buffer.
