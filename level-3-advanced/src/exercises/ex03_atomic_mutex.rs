//! # Exercise l3-ex03: (being written)
