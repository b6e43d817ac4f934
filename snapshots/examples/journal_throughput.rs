//! Journal throughput: appends events of 64 bytes from two threads with many in
//! flight, waits until they are durable, then measures `recover` on the result.
//!
//! Run: `cargo run --release -p playcore-snapshots --example journal_throughput [events] [in_flight]`

use std::error::Error;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use playcore_snapshots::{recover, AppendError, Durability, Journal, JournalConfig, Store};

const EVENTS_TOTAL_DEFAULT: u64 = 1_000_000;
const PAYLOAD_BYTES: usize = 64;
const APPENDER_THREADS: u64 = 2;
/// An appender pauses while more of the journal than this is not yet durable, like
/// actors whose replies wait for the watermark while they keep deciding.
const IN_FLIGHT_EVENTS_DEFAULT: u64 = 10_000;
const STREAMS: u64 = 1_000;

fn main() -> Result<(), Box<dyn Error>> {
    let events_total = argument_or(1, EVENTS_TOTAL_DEFAULT)?;
    let in_flight_max = argument_or(2, IN_FLIGHT_EVENTS_DEFAULT)?;
    println!("{events_total} events of {PAYLOAD_BYTES} bytes, {APPENDER_THREADS} threads, up to {in_flight_max} not yet durable");
    let modes = [
        Durability::Fsync,
        Durability::Relaxed {
            flush_interval_ms: 100,
        },
    ];
    for durability in modes {
        let directory = tempfile::tempdir()?;
        append_phase(directory.path(), durability, events_total, in_flight_max)?;
        recover_phase(directory.path())?;
    }
    Ok(())
}

fn argument_or(position: usize, default: u64) -> Result<u64, Box<dyn Error>> {
    match std::env::args().nth(position) {
        Some(argument) => Ok(argument.parse()?),
        None => Ok(default),
    }
}

fn append_phase(
    directory: &Path,
    durability: Durability,
    events_total: u64,
    in_flight_max: u64,
) -> Result<(), Box<dyn Error>> {
    let store = Store::open(directory)?;
    let config = JournalConfig {
        durability,
        ..JournalConfig::default()
    };
    let journal = Journal::start(store, config, 1);
    let started = Instant::now();
    thread::scope(|scope| {
        for thread_index in 0..APPENDER_THREADS {
            let journal = &journal;
            scope.spawn(move || {
                append_events(
                    journal,
                    thread_index,
                    events_total / APPENDER_THREADS,
                    in_flight_max,
                )
            });
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(journal.wait_durable(journal.appended_seq()))?;
    let elapsed = started.elapsed();
    let stats = journal.stats();
    journal.shutdown()?;
    let events = stats.events_written as f64;
    let sync_count = stats.sync_count.max(1) as f64;
    println!(
        "{durability:?}: {events} events durable in {:.2} s = {:.0} events/s; {} batches ({:.0} events/batch), \
         {} records; avg sync {:.0} us (of which fdatasync {:.0} us) over {} syncs",
        elapsed.as_secs_f64(),
        events / elapsed.as_secs_f64(),
        stats.batches_written,
        events / stats.batches_written.max(1) as f64,
        stats.records_written,
        stats.sync_time_us_total as f64 / sync_count,
        stats.fdatasync_time_us_total as f64 / sync_count,
        stats.sync_count,
    );
    Ok(())
}

fn append_events(journal: &Journal, thread_index: u64, count: u64, in_flight_max: u64) {
    let payload = [0x5A_u8; PAYLOAD_BYTES];
    for index in 0..count {
        let stream = (index * APPENDER_THREADS + thread_index) % STREAMS;
        loop {
            let appended = journal.append(stream, |buffer| {
                buffer.extend_from_slice(&payload);
                Ok(())
            });
            match appended {
                Ok(_) => break,
                Err(AppendError::Full) => thread::sleep(Duration::from_micros(100)),
                Err(error) => panic!("append failed: {error}"),
            }
        }
        while journal.appended_seq() - journal.durable_seq() > in_flight_max {
            thread::sleep(Duration::from_micros(100));
        }
    }
}

fn recover_phase(directory: &Path) -> Result<(), Box<dyn Error>> {
    let store = Store::open(directory)?;
    let started = Instant::now();
    let recovered = recover(&store)?;
    let elapsed = started.elapsed();
    println!(
        "  recover: {} events in {:.3} s = {:.0} events/s (tail cut: {:?})",
        recovered.events.len(),
        elapsed.as_secs_f64(),
        recovered.events.len() as f64 / elapsed.as_secs_f64(),
        recovered.tail_cut,
    );
    Ok(())
}
