//! # Exercise l2-ex04: (being written)
