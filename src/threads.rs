//! The background scheduling class: threads whose work must only use the CPU the trading
//! path leaves (the event indexer, the delivery engine) enter it.
//!
//! Linux's `SCHED_IDLE`: such a thread runs when nothing else wants the CPU, and a waking
//! server thread preempts it at once. A lower nice value is not enough: the server's own
//! threads run under `SCHED_BATCH` (`server.thread_policy`), which does not preempt on
//! wake-up, so a woken HTTP worker would wait out a nice-19 thread's time slice, and a
//! closed-loop rush with three webhook endpoints lost about half its grabs per second that
//! way (docs/benchmarks.md). Off Linux this does nothing.

use std::io;

/// Puts the calling thread in the background class.
pub fn enter_background_class() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let parameters = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 names the calling thread; `parameters` outlives the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &parameters) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
