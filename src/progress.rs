//! Progress of a long command (`match`, `catalog build`/`add`): on a terminal, one line
//! redrawn in place; with JSON logs, a `progress` event every few seconds and one at the
//! end, so that a cluster's log shows how far a run is; otherwise nothing.

use std::time::Instant;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// A line on stderr, which is a terminal.
    Line,
    /// `progress` log events (JSON logs).
    Events,
}

/// Seconds between two redraws of the line, and between two events.
const LINE_S: f64 = 0.2;
const EVENT_S: f64 = 10.0;

/// Counts of a command's items (`what`: uploads, videos) as they finish.
pub struct Progress {
    mode: Mode,
    what: &'static str,
    /// What the items yield (matches, frames).
    found_name: &'static str,
    started: Instant,
    shown: Option<Instant>,
    done: u64,
    failed: u64,
    found: u64,
}

impl Progress {
    /// `resumed`: items done before an interruption, counted as done.
    pub fn new(mode: Mode, what: &'static str, found_name: &'static str, resumed: u64) -> Progress {
        Progress { mode, what, found_name, started: Instant::now(), shown: None, done: resumed, failed: 0, found: 0 }
    }

    /// One more item, failed or yielding `found`.
    pub fn update(&mut self, failed: bool, found: u64) {
        self.done += 1;
        self.failed += u64::from(failed);
        self.found += found;
        let every = if self.mode == Mode::Events { EVENT_S } else { LINE_S };
        if self.shown.is_none_or(|t| t.elapsed().as_secs_f64() >= every) {
            self.show();
        }
    }

    fn show(&mut self) {
        let s = self.started.elapsed().as_secs_f64();
        let rate = self.done as f64 / s.max(1e-9);
        let (what, found_name) = (self.what, self.found_name);
        match self.mode {
            Mode::Off => {}
            Mode::Line => eprint!(
                "\r\x1b[2K{} {what}, {} failed, {} {found_name} | {s:.0} s, {rate:.1} {what}/s",
                self.done, self.failed, self.found
            ),
            Mode::Events => tracing::info!(
                target: "clipmatch::progress",
                done = self.done,
                failed = self.failed,
                found = self.found,
                elapsed_s = s,
                per_s = rate,
                "progress: {} {what}, {} failed, {} {found_name}",
                self.done,
                self.failed,
                self.found
            ),
        }
        self.shown = Some(Instant::now());
    }

    /// The final counts.
    pub fn finish(&mut self) {
        self.show();
        if self.mode == Mode::Line {
            eprintln!();
        }
    }
}
