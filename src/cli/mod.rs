//! The command line: `playcore serve [--config FILE] [--bind HOST:PORT] [--data-dir DIR]
//! [--demo]`, and for a stopped server `playcore audit verify [--data-dir DIR]`,
//! `playcore check [--data-dir DIR]`, `playcore backup [--data-dir DIR] [--to BACKUPS_DIR]`
//! and `playcore restore --from BACKUP --data-dir DIR`. Parsing, and the offline commands;
//! the flags of `serve` become the last layer of the settings.

mod check;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use playcore_snapshots::backup::{create_backup, restore_backup, BackupError, BackupInfo};
use playcore_snapshots::seal::read_seal;
use playcore_snapshots::Store;

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
    /// Verifies a stopped server's data directory offline and prints every problem; exits
    /// 0 when it is whole, 1 otherwise.
    Check(VerifyArgs),
    /// Writes a verified backup of a stopped server's data directory.
    Backup(BackupArgs),
    /// Restores a backup into a data directory that does not exist or is empty (move a
    /// damaged one aside first; never delete it).
    Restore(RestoreArgs),
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The data directory (default: storage.data_dir of the settings). The server must
    /// not be running on it.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the backup folder is written (default: backup.directory of the settings).
    #[arg(long, value_name = "BACKUPS_DIR")]
    pub to: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup folder (`backup-{time}-{seq}`).
    #[arg(long, value_name = "BACKUP")]
    pub from: PathBuf,
    /// The data directory to create; it must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
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
    #[error(
        "data directory {0} is damaged: {1} problem(s), listed above. Move it aside (never \
         delete it) and restore the last backup: README, \"A node that refuses to start\""
    )]
    Damaged(String, usize),
    #[error("cannot open the data directory {0}: {1}")]
    Store(String, String),
    #[error(
        "data directory {0} holds the journal only up to seq {1}, but its seal records {2}: \
         it is damaged (run `playcore check`); no backup was kept"
    )]
    ShortOfSeal(String, u64, u64),
    #[error(transparent)]
    Backup(#[from] BackupError),
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
        Command::Check(args) => check(args),
        Command::Backup(args) => backup(args),
        Command::Restore(args) => restore(&args),
    }
}

/// `directory`, or the settings' data directory.
fn data_dir_or_default(directory: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match directory {
        Some(directory) => Ok(directory),
        None => Ok(Settings::load(&Overrides::default())?.storage.data_dir),
    }
}

fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let data_dir = data_dir_or_default(args.data_dir)?;
    let verified = audit::verify_directory(&data_dir)?;
    println!(
        "audit log intact: {} records, last hash {}",
        verified.records, verified.last_hash
    );
    Ok(())
}

fn check(args: VerifyArgs) -> Result<(), CliError> {
    let data_dir = data_dir_or_default(args.data_dir)?;
    let report = crate::cli::check::check_data_dir(&data_dir);
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    let shown = data_dir.display().to_string();
    if !report.is_whole() {
        return Err(CliError::Damaged(shown, report.problems.len()));
    }
    println!("data directory {shown} is whole");
    Ok(())
}

fn backup(args: BackupArgs) -> Result<(), CliError> {
    let to = match args.to {
        Some(directory) => directory,
        None => Settings::load(&Overrides::default())?.backup.directory,
    };
    let data_dir = data_dir_or_default(args.data_dir)?;
    let store = open_stopped(&data_dir)?;
    let shown = data_dir.display().to_string();
    let sealed = read_seal(&data_dir)
        .map_err(|error| CliError::Store(shown.clone(), error.to_string()))?
        .map(|seal| seal.durable_seq);
    // A stopped server: everything its seal covers (everything, without a seal).
    let info = create_backup(&store, sealed.unwrap_or(u64::MAX), &to)?;
    if let Some(sealed) = sealed.filter(|sealed| info.durable_seq < *sealed) {
        let _ = std::fs::remove_dir_all(&info.path);
        return Err(CliError::ShortOfSeal(shown, info.durable_seq, sealed));
    }
    print_backup("written and verified", &info);
    Ok(())
}

/// Opens the store of a stopped server; refuses a directory without a database (a typo
/// must not create an empty one) and one in use.
fn open_stopped(data_dir: &Path) -> Result<Store, CliError> {
    let shown = data_dir.display().to_string();
    if !data_dir.join("db").is_file() {
        return Err(CliError::Store(shown, "no database there".to_owned()));
    }
    Store::open(data_dir).map_err(|error| {
        let reason = error.to_string();
        let hint = if reason.contains("lock") {
            " (stop the server first)"
        } else {
            ""
        };
        CliError::Store(shown, format!("{reason}{hint}"))
    })
}

fn restore(args: &RestoreArgs) -> Result<(), CliError> {
    let info = restore_backup(&args.from, &args.data_dir)?;
    print_backup("restored", &info);
    println!(
        "into {}: start the server on it; writes acknowledged after {} are not in it",
        args.data_dir.display(),
        info.created_at
    );
    Ok(())
}

fn print_backup(what: &str, info: &BackupInfo) {
    println!(
        "backup {what}: {} (durable seq {}, {} bytes, created {})",
        info.path.display(),
        info.durable_seq,
        info.bytes,
        info.created_at
    );
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

    #[test]
    fn check_backup_and_restore_take_their_directories() {
        let cli = Cli::try_parse_from(["playcore", "check", "--data-dir", "d"]).expect("parses");
        let Command::Check(args) = cli.command else {
            panic!("not check");
        };
        assert_eq!(args.data_dir, Some(PathBuf::from("d")));
        let cli = Cli::try_parse_from(["playcore", "backup", "--data-dir", "d", "--to", "b"])
            .expect("parses");
        let Command::Backup(args) = cli.command else {
            panic!("not backup");
        };
        assert_eq!(
            (args.data_dir, args.to),
            (Some("d".into()), Some("b".into()))
        );
        let cli = Cli::try_parse_from(["playcore", "restore", "--from", "b/x", "--data-dir", "n"])
            .expect("parses");
        let Command::Restore(args) = cli.command else {
            panic!("not restore");
        };
        assert_eq!((args.from, args.data_dir), ("b/x".into(), "n".into()));
        assert!(Cli::try_parse_from(["playcore", "restore", "--from", "b/x"]).is_err());
    }
}
