//! The one integration test binary: each module is a concern, each test gets
//! its own temporary directory from `harness`.

mod cli;
mod harness;
mod stdio;
#[cfg(feature = "tui")]
mod tui;
