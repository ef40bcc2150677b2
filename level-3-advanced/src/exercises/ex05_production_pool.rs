//! # Exercise l3-ex05: (being written)
