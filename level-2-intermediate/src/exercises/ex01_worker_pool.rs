//! # Exercise l2-ex01: (being written)
