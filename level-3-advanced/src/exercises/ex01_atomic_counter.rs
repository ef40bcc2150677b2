//! # Exercise l3-ex01: (being written)
