//! systemd integration: READY=1 once the service works, WATCHDOG=1 from the main loop (so a
//! wedged loop gets the process restarted), STOPPING=1 on the way out. No-ops outside systemd.

use std::time::{Duration, Instant};

/// Tells systemd the service is ready.
pub fn ready() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
}

pub fn stopping() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
}

/// Pings the watchdog at half its interval, from wherever the main loop calls [`Watchdog::tick`].
pub struct Watchdog {
    interval: Option<Duration>,
    last: Instant,
}

impl Watchdog {
    pub fn from_env() -> Self {
        let mut usec = 0u64;
        let interval = sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec) / 2);
        Self { interval, last: Instant::now() }
    }

    pub fn tick(&mut self) {
        if let Some(every) = self.interval {
            if self.last.elapsed() >= every {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                self.last = Instant::now();
            }
        }
    }
}
