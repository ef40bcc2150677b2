//! # Exercise l3-ex04: (being written)
