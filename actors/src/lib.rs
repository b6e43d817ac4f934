//! playcore-actors: the domain state machines of playcore and the actors around them.
//!
//! # Layout
//! - `domain`: pure state machines (`decide` / `apply`), events, commands, rejections.
//!   No actix, I/O or clock inside.

pub mod domain;
