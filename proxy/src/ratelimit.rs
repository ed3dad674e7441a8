//! Per-client-IP request limits (GCRA from `governor`): a general budget per minute and a
//! stricter one for `POST /auth/login`. Each limiter forgets idle IPs periodically so memory
//! stays bounded.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct Limits {
    general: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

/// Refused: retry after this long.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub Duration);

impl Limits {
    pub fn new(per_minute: u32, login_per_minute: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("non-zero"));
        Self { general: RateLimiter::keyed(quota(per_minute)), login: RateLimiter::keyed(quota(login_per_minute)), clock: DefaultClock::default() }
    }

    /// Checks (and spends) one request of `ip`; login attempts spend from both budgets.
    pub fn check(&self, ip: IpAddr, is_login: bool) -> Result<(), Refused> {
        let now = self.clock.now();
        if is_login {
            self.login.check_key(&ip).map_err(|n| Refused(n.wait_time_from(now)))?;
        }
        self.general.check_key(&ip).map_err(|n| Refused(n.wait_time_from(now)))
    }

    /// Drops state of IPs whose budget is full again.
    pub fn forget_idle(&self) {
        self.general.retain_recent();
        self.login.retain_recent();
        self.general.shrink_to_fit();
        self.login.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_per_ip_and_login_is_stricter() {
        let l = Limits::new(5, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.check(a, true).is_ok());
        assert!(l.check(a, true).is_ok());
        let refused = l.check(a, true).unwrap_err();
        assert!(refused.0 > Duration::ZERO);
        assert!(l.check(a, false).is_ok(), "the general budget still has room");
        assert!(l.check(b, true).is_ok(), "another IP is unaffected");
        for _ in 0..3 {
            let _ = l.check(a, false);
        }
        assert!(l.check(a, false).is_err());
    }
}
