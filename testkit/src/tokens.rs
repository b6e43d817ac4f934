//! The development tokens of `config/default.toml` (`[[auth.tokens]]`), read by the build
//! script so the tests never repeat them: `ADMIN_TOKEN`, `OPERATOR_TOKEN`, `APPROVER_TOKEN`,
//! `SECOND_APPROVER_TOKEN`, and the names each is recorded under (`ADMIN_NAME` …).

include!(concat!(env!("OUT_DIR"), "/tokens.rs"));
