//! The real `playcore` binary from outside: the admin audit log, the H5 pages, the
//! load-test harness, the process's threads, the lifecycle scheduler and the websockets.
//! Every test runs `playcore` as a child process (`playcore_testkit::process`), except
//! `architecture`, which reads the server crate's sources for import cycles.

mod architecture;
mod audit;
mod flow;
mod h5;
mod harness;
mod process;
mod scheduler;
mod ws;
