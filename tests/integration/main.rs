//! The one integration test binary: each module is a concern, each test gets
//! its own temporary directory from `harness`.

mod architecture;
mod batch;
mod calibrate;
mod check;
mod churn;
mod cli;
mod deployed;
mod failover;
mod faults;
mod gc;
mod goldens;
mod harness;
mod hostile;
mod hostile_http;
mod http_stream;
mod instant;
mod lifecycle;
mod loud;
mod net;
mod outputs;
mod profile;
mod profile_runtime;
mod require;
mod result_keys;
mod results;
mod rust_source;
mod scenario_peers;
mod scenarios;
mod serve;
mod sse_resume;
mod stdio;
#[cfg(feature = "tui")]
mod tui;
mod wire_bytes;
