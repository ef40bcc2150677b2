//! # Exercise l3-ex02: (being written)
