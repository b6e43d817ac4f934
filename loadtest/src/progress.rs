//! The live progress bar: workers bump a counter, a ticker draws it four times a second
//! (so drawing never sits on the request path).

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(250);

/// A progress bar over `total` units, or nothing when quiet.
pub struct Progress {
    done: Arc<AtomicU64>,
    ticker: Option<(ProgressBar, tokio::task::JoinHandle<()>)>,
}

impl Progress {
    pub fn start(label: &str, total: u64, quiet: bool) -> Progress {
        let done = Arc::new(AtomicU64::new(0));
        if quiet {
            return Progress { done, ticker: None };
        }
        let bar = ProgressBar::new(total);
        let template =
            "{prefix:>24} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} eta {eta}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(label.to_owned());
        let (counter, drawn) = (done.clone(), bar.clone());
        let task = tokio::spawn(async move {
            loop {
                drawn.set_position(counter.load(Ordering::Relaxed));
                tokio::time::sleep(TICK).await;
            }
        });
        Progress {
            done,
            ticker: Some((bar, task)),
        }
    }

    /// The counter workers bump once per unit done.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.done.clone()
    }

    pub fn finish(self) {
        if let Some((bar, task)) = self.ticker {
            task.abort();
            bar.set_position(self.done.load(Ordering::Relaxed));
            bar.finish();
        }
    }
}
