//! The engine against an in-process event source and real sled trees.
