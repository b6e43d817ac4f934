//! The two binaries start and describe themselves. Besides checking their command lines,
//! this makes `cargo test --release` build them with the same features as every other
//! test, so `loadtest/bench.sh` (which builds through `cargo test --no-run`) measures the
//! very binaries the tests ran and needs no second build.

use std::process::Command;

fn help_of(binary: &str) -> String {
    let output = Command::new(binary)
        .arg("--help")
        .output()
        .expect("the binary starts");
    assert!(output.status.success(), "{binary} --help exits 0");
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

#[test]
fn the_harness_lists_every_scenario_and_the_main_options() {
    let help = help_of(env!("CARGO_BIN_EXE_playcore-loadtest"));
    for expected in [
        "flash-rush",
        "group-buy",
        "ws-fanout",
        "mixed",
        "--url",
        "--rate",
        "--seed",
    ] {
        assert!(help.contains(expected), "help names {expected}: {help}");
    }
}

#[test]
fn the_ceiling_server_takes_its_address() {
    let help = help_of(env!("CARGO_BIN_EXE_playcore-ceiling"));
    assert!(help.contains("--bind"), "help names --bind: {help}");
}
