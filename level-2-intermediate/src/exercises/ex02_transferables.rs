//! # Exercise l2-ex02: (being written)
