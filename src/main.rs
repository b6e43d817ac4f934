//! The `playcore` binary: parse the command line, run it, report failure on stderr.

use std::process::ExitCode;

use clap::Parser;
use playcore::cli::{self, Cli, CliError};

/// mimalloc rather than the system allocator: every request allocates (headers, JSON,
/// replies) on one thread and frees on another, which glibc's malloc handles poorly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let thp_disabled = disable_transparent_huge_pages();
    let cli = Cli::parse();
    playcore::telemetry::init();
    if let Err(error) = thp_disabled {
        tracing::warn!(%error, "transparent huge pages stay enabled");
    }
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Printed, not logged: a refused configuration must show even with RUST_LOG=off.
            eprintln!("playcore: {error}");
            ExitCode::from(exit_code(&error))
        }
    }
}

/// 75 when the journal failed (a restart recovers; README, "Durability"), 1 otherwise.
fn exit_code(error: &CliError) -> u8 {
    match error {
        CliError::Startup(startup) => startup.exit_code(),
        _ => 1,
    }
}

/// Turns transparent huge pages off for this process. The state grows with every order,
/// and with huge pages each first touch of a fresh 2 MiB region zeroes all of it at once:
/// an actor or HTTP worker stalls for a millisecond or more mid-request, which is most of
/// the latency tail under load. With 4 KiB pages the same zeroing is spread thinly.
fn disable_transparent_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only; it changes a flag of this process.
        let outcome = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if outcome != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
