//! The free-space guard: refuses new writes while the data directory's file system has
//! less free space than a reserve, so the journal never meets a full disk (ENOSPC) in the
//! middle of a batch, and lets them in again once space is back.
//!
//! A thread ("storage-space") reads `statvfs` of the data directory every
//! [`CHECK_INTERVAL`] (space available to unprivileged users, `f_bavail`) and keeps the
//! verdict in an atomic; [`crate::Journal::append`] and `queue_snapshot` only load it.
//! The reserve is the larger of a byte count and a percentage of the file system's size
//! ([`SpaceReserve`]); it must hold what is already under way when the guard trips: the
//! batch being written, the snapshots being stored (a whole activity each, written before
//! its previous file is deleted) and [`CHECK_INTERVAL`] of writes. The guard clears only
//! once free space is back above the reserve plus [`CLEAR_MARGIN_DIVISOR`]-th of it, so
//! free space hovering at the reserve does not flap.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::throttle::{LogThrottle, LOG_INTERVAL};

/// How often the guard reads the file system's free space: what a rush of grabs writes
/// in one interval is far below any sensible reserve.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(100);
/// The guard clears once free space exceeds the reserve by a twentieth of it.
pub const CLEAR_MARGIN_DIVISOR: u64 = 20;

/// How much free space the guard keeps: the larger of `bytes` and `percent` of the file
/// system's size. Both zero: the guard never trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpaceReserve {
    pub bytes: u64,
    pub percent: u8,
}

impl SpaceReserve {
    /// The reserve on a file system of `total_bytes`.
    pub fn bytes_of(&self, total_bytes: u64) -> u64 {
        let share = u128::from(total_bytes) * u128::from(self.percent) / 100;
        self.bytes.max(u64::try_from(share).unwrap_or(u64::MAX))
    }
}

/// One reading of a file system's space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceReading {
    /// Space an unprivileged process may still use (`f_bavail`).
    pub free_bytes: u64,
    /// The file system's size (`f_blocks`).
    pub total_bytes: u64,
}

/// `statvfs` of `path`'s file system.
// The counts are `c_ulong` and `fsblkcnt_t`: u64 on 64-bit Linux (`u64::from` is a no-op
// there), u32 on some 32-bit targets.
#[allow(clippy::useless_conversion)]
pub fn read_space(path: &Path) -> io::Result<SpaceReading> {
    let name = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
    // SAFETY: `statvfs` is plain data; an all-zero value is valid and is overwritten.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a valid C string and `stats` a valid out-pointer, both live
    // across the call.
    if unsafe { libc::statvfs(name.as_ptr(), &mut stats) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let fragment_bytes = u64::from(stats.f_frsize).max(1);
    Ok(SpaceReading {
        free_bytes: u64::from(stats.f_bavail).saturating_mul(fragment_bytes),
        total_bytes: u64::from(stats.f_blocks).saturating_mul(fragment_bytes),
    })
}

/// The guard's verdict and its last reading, shared by the store's clones.
#[derive(Debug, Default)]
pub struct SpaceGuard {
    /// The configured reserve ([`SpaceReserve`]), which may change while running.
    reserve_setting_bytes: AtomicU64,
    reserve_setting_percent: AtomicU8,
    /// The watching thread runs.
    watching: AtomicBool,
    writes_refused: AtomicBool,
    free_bytes: AtomicU64,
    reserve_bytes: AtomicU64,
    /// Appends and snapshots refused since start.
    refusals: AtomicU64,
}

impl SpaceGuard {
    /// Whether new writes must be refused now (one atomic load).
    #[inline]
    pub fn writes_refused(&self) -> bool {
        self.writes_refused.load(Ordering::Relaxed)
    }

    /// Free space at the last reading.
    pub fn free_bytes(&self) -> u64 {
        self.free_bytes.load(Ordering::Relaxed)
    }

    /// The reserve in bytes at the last reading.
    pub fn reserve_bytes(&self) -> u64 {
        self.reserve_bytes.load(Ordering::Relaxed)
    }

    /// Writes refused because of the reserve since start.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    pub(crate) fn count_refusal(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// The configured reserve.
    pub fn reserve(&self) -> SpaceReserve {
        SpaceReserve {
            bytes: self.reserve_setting_bytes.load(Ordering::Relaxed),
            percent: self.reserve_setting_percent.load(Ordering::Relaxed),
        }
    }

    /// Takes a reading into account; logs when the verdict changes.
    pub fn observe(&self, reading: SpaceReading, directory: &Path) {
        let reserve_bytes = self.reserve().bytes_of(reading.total_bytes);
        self.free_bytes.store(reading.free_bytes, Ordering::Relaxed);
        self.reserve_bytes.store(reserve_bytes, Ordering::Relaxed);
        let refused = self.writes_refused();
        let clear_bytes = reserve_bytes.saturating_add(reserve_bytes / CLEAR_MARGIN_DIVISOR);
        let free_bytes = reading.free_bytes;
        let directory = directory.display();
        if !refused && free_bytes < reserve_bytes {
            self.writes_refused.store(true, Ordering::Relaxed);
            tracing::error!(%directory, free_bytes, reserve_bytes,
                "storage: free space below the reserve; new writes are refused \
                 (503 STORAGE_FULL) and /readyz answers 503 until space is freed");
        } else if refused && free_bytes >= clear_bytes {
            self.writes_refused.store(false, Ordering::Relaxed);
            tracing::info!(%directory, free_bytes, reserve_bytes,
                "storage: free space back above the reserve; writes resume");
        }
    }

    /// Sets the reserve and reads `directory`'s space at once, then every
    /// [`CHECK_INTERVAL`] on a thread of its own (started by the first call) until the guard
    /// is dropped. A later call only changes the reserve.
    pub fn start(
        guard: &Arc<SpaceGuard>,
        directory: &Path,
        reserve: SpaceReserve,
    ) -> io::Result<()> {
        guard
            .reserve_setting_bytes
            .store(reserve.bytes, Ordering::Relaxed);
        guard
            .reserve_setting_percent
            .store(reserve.percent, Ordering::Relaxed);
        guard.observe(read_space(directory)?, directory);
        if guard.watching.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let (weak, directory) = (Arc::downgrade(guard), directory.to_path_buf());
        let spawned = std::thread::Builder::new()
            .name("storage-space".into())
            .spawn(move || watch(weak, directory));
        if let Err(error) = spawned {
            guard.watching.store(false, Ordering::Release);
            return Err(error);
        }
        Ok(())
    }
}

fn watch(guard: Weak<SpaceGuard>, directory: PathBuf) {
    static READ_FAILED: LogThrottle = LogThrottle::new(LOG_INTERVAL);
    loop {
        std::thread::sleep(CHECK_INTERVAL);
        let Some(guard) = guard.upgrade() else {
            return;
        };
        match read_space(&directory) {
            Ok(reading) => guard.observe(reading, &directory),
            Err(error) => {
                if let Some(suppressed) = READ_FAILED.admit() {
                    tracing::warn!(directory = %directory.display(), %error, suppressed,
                        "storage: free space unknown; the guard keeps its last verdict");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn reading(free_mib: u64) -> SpaceReading {
        SpaceReading {
            free_bytes: free_mib * MIB,
            total_bytes: 1000 * MIB,
        }
    }

    #[test]
    fn the_reserve_is_the_larger_of_bytes_and_percent() {
        let reserve = SpaceReserve {
            bytes: 100 * MIB,
            percent: 5,
        };
        assert_eq!(reserve.bytes_of(1000 * MIB), 100 * MIB);
        assert_eq!(reserve.bytes_of(10_000 * MIB), 500 * MIB);
        assert_eq!(SpaceReserve::default().bytes_of(u64::MAX), 0);
        let all = SpaceReserve {
            bytes: 0,
            percent: 100,
        };
        assert_eq!(all.bytes_of(u64::MAX), u64::MAX);
    }

    #[test]
    fn trips_below_the_reserve_and_clears_above_it_plus_the_margin() {
        let guard = SpaceGuard::default();
        guard
            .reserve_setting_bytes
            .store(100 * MIB, Ordering::Relaxed);
        let directory = Path::new("/data");
        guard.observe(reading(150), directory);
        assert!(!guard.writes_refused());
        guard.observe(reading(99), directory);
        assert!(guard.writes_refused());
        assert_eq!(guard.free_bytes(), 99 * MIB);
        assert_eq!(guard.reserve_bytes(), 100 * MIB);
        guard.observe(reading(104), directory);
        assert!(guard.writes_refused(), "within the margin: still refused");
        guard.observe(reading(105), directory);
        assert!(!guard.writes_refused());
    }

    #[test]
    fn reads_the_space_of_a_real_directory() -> io::Result<()> {
        let reading = read_space(Path::new("/"))?;
        assert!(reading.total_bytes > 0);
        assert!(reading.free_bytes <= reading.total_bytes);
        Ok(())
    }
}
