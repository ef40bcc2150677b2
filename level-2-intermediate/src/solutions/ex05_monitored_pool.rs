//! # Exercise l2-ex05: (being written)
