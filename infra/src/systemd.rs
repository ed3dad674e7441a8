//! systemd integration (`Type=notify` units): READY=1 once the service works, WATCHDOG=1 from a
//! loop that would stop if the service wedged (so systemd restarts it), STOPPING=1 on the way
//! out. Every call is a no-op outside systemd (no `$NOTIFY_SOCKET`).

use std::time::{Duration, Instant};

/// Tells systemd the service is ready.
pub fn ready() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
}

/// Tells systemd this process is now the service's main process, and ready.
///
/// Why: a graceful reload of the proxy starts a second process from `ExecReload=` that takes the
/// listening sockets over while the old one drains and exits. With `NotifyAccess=all` systemd
/// accepts `MAINPID=` from that process, so it follows the new process instead of treating the
/// old one's exit as the service's end. For a process systemd started itself it changes nothing.
pub fn ready_as_main_process() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::MainPid(std::process::id()), sd_notify::NotifyState::Ready]);
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
        Self { interval: watchdog_interval(), last: Instant::now() }
    }

    /// How often [`Watchdog::tick`] must at least be called (`None`: no watchdog configured).
    pub fn interval(&self) -> Option<Duration> {
        self.interval
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

/// Half of `WATCHDOG_USEC` when systemd expects pings from this process.
fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0u64;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec) / 2)
}

/// Pings the watchdog from a tokio task for as long as the runtime schedules it — for servers
/// whose work happens in many tasks, where a stalled runtime is what the watchdog should catch.
/// Returns immediately when no watchdog is configured.
pub async fn watchdog_task() {
    let Some(every) = watchdog_interval() else { return };
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
    }
}
