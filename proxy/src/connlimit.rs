//! Open client connections per IP, capped like nginx's `limit_conn`: a connection counts from
//! its first request header until it closes. The slot rides along the keep-alive connection
//! (Pingora hands a per-connection context from one request to the next) and is released when
//! that context is dropped with the connection. An HTTP/2 connection holds one slot per stream
//! in flight instead, as Pingora carries no context between HTTP/2 streams.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counters of open connections by client IP.
pub struct ConnectionSlots {
    max: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One connection's place in the count; giving it back is dropping it.
pub struct ConnectionSlot {
    ip: IpAddr,
    slots: Arc<ConnectionSlots>,
}

impl ConnectionSlots {
    pub fn new(max: u32) -> Arc<Self> {
        Arc::new(Self { max: max.max(1), open: Mutex::new(HashMap::new()) })
    }

    /// A slot for one more connection of `ip`, or `None` when it already holds the maximum.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Arc<ConnectionSlot>> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Arc::new(ConnectionSlot { ip, slots: self.clone() }))
    }

    /// Connections `ip` holds now.
    #[cfg(test)]
    fn open(&self, ip: IpAddr) -> u32 {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            // Forgotten at zero, so the map only ever holds IPs with open connections.
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_ip_and_released_on_drop() {
        let slots = ConnectionSlots::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = slots.acquire(a).unwrap();
        let second = slots.acquire(a).unwrap();
        assert!(slots.acquire(a).is_none(), "a third connection of the same IP is refused");
        assert!(slots.acquire(b).is_some(), "other IPs are not affected");
        let shared = second.clone();
        drop(second);
        assert_eq!(slots.open(a), 2, "a slot is held while any request of its connection holds it");
        drop(shared);
        assert_eq!(slots.open(a), 1);
        assert!(slots.acquire(a).is_some());
        drop(first);
        assert_eq!(slots.open(b), 0);
        assert!(slots.open.lock().unwrap().len() <= 1, "IPs without connections are forgotten");
    }
}
