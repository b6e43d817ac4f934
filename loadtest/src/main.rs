//! `playcore-loadtest <scenario> [options]`: runs a scenario against a running playcore,
//! prints the report, writes it as JSON with a latency chart next to it, and exits non-zero
//! when the verdict fails (1) or the run could not be carried out (2).

use clap::Parser;
use playcore_loadtest::{report, scenarios, Options};
use std::process::ExitCode;

/// mimalloc, as in both servers: glibc's malloc/free showed in the harness's own profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let options = Options::parse();
    let report = match scenarios::run_blocking(&options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("playcore-loadtest: {error}");
            return ExitCode::from(2);
        }
    };
    if options.setup_only {
        return ExitCode::SUCCESS; // the activity id is printed; nothing was measured
    }
    println!("{}", report::render_table(&report));
    let chart = options.out.with_extension("svg");
    let written = report::write_json(&report, &options.out)
        .and_then(|()| report::write_chart(&report, &chart));
    match written {
        Ok(()) => println!(
            "report: {}  chart: {}",
            options.out.display(),
            chart.display()
        ),
        Err(error) => {
            eprintln!("playcore-loadtest: writing the report: {error}");
            return ExitCode::from(2);
        }
    }
    let passed = report.verdict.as_ref().is_none_or(|verdict| verdict.passed);
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
