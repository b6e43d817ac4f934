//! The command line: `playcore serve [--config FILE] [--bind HOST:PORT] [--data-dir DIR]
//! [--demo]` and `playcore audit verify [--data-dir DIR]`. Parsing only; the flags become
//! the last layer of the settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::audit::{self, VerifyError};
use crate::config::{ConfigError, Overrides, Settings};
use crate::startup::{self, StartupError};

/// playcore: flash sales and group buys as durable in-memory actors.
#[derive(Debug, Parser)]
#[command(name = "playcore", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recover state from the data directory, then serve HTTP and websockets.
    Serve(ServeArgs),
    /// The admin audit log of a stopped server.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walks the hash chain and checks every record; exits 1 at the first broken one.
    Verify(VerifyArgs),
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The data directory (default: storage.data_dir of the settings). The server must
    /// not be running on it.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Why a command failed; printed by `main`, which then exits 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Audit(#[from] VerifyError),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// An extra config file, read after config/default.toml and config/$PLAYCORE_ENV.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides server.bind).
    #[arg(long, value_name = "HOST:PORT")]
    pub bind: Option<String>,
    /// Where the journal and snapshots live (overrides storage.data_dir).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Seed demo activities at start.
    #[arg(long)]
    pub demo: bool,
}

impl ServeArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            bind: self.bind.clone(),
            data_dir: self.data_dir.clone(),
            demo: self.demo,
        }
    }
}

/// Runs the parsed command to completion.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => Ok(startup::serve(
            Settings::load(&args.overrides()).map_err(StartupError::from)?,
        )?),
        Command::Audit(AuditCommand::Verify(args)) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let data_dir = match args.data_dir {
        Some(directory) => directory,
        None => Settings::load(&Overrides::default())?.storage.data_dir,
    };
    let verified = audit::verify_directory(&data_dir)?;
    println!(
        "audit log intact: {} records, last hash {}",
        verified.records, verified.last_hash
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_takes_every_flag() {
        let cli = Cli::try_parse_from([
            "playcore",
            "serve",
            "--config",
            "x.toml",
            "--bind",
            "0.0.0.0:9",
            "--data-dir",
            "d",
            "--demo",
        ])
        .expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("not serve");
        };
        let overrides = args.overrides();
        assert_eq!(overrides.config_file, Some(PathBuf::from("x.toml")));
        assert_eq!(overrides.bind.as_deref(), Some("0.0.0.0:9"));
        assert_eq!(overrides.data_dir, Some(PathBuf::from("d")));
        assert!(overrides.demo);
    }

    #[test]
    fn audit_verify_takes_a_data_dir() {
        let cli = Cli::try_parse_from(["playcore", "audit", "verify", "--data-dir", "d"])
            .expect("parses");
        let Command::Audit(AuditCommand::Verify(args)) = cli.command else {
            panic!("not audit verify");
        };
        assert_eq!(args.data_dir, Some(PathBuf::from("d")));
    }
}
