//! The `playcore` binary: parse the command line, run it, report failure on stderr.

use std::process::ExitCode;

use clap::Parser;
use playcore::cli::{self, Cli};

/// mimalloc rather than the system allocator: every request allocates (headers, JSON,
/// replies) on one thread and frees on another, which glibc's malloc handles poorly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    playcore::telemetry::init();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Printed, not logged: a refused configuration must show even with RUST_LOG=off.
            eprintln!("playcore: {error}");
            ExitCode::FAILURE
        }
    }
}
