//! # Exercise l2-ex03: (being written)
