//! Argon2id password hashing with OWASP's parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is CPU-bound (tens of milliseconds) and takes 19 MiB, so it runs on a few threads
//! of its own (one per core), never on the async workers that serve other requests — nor on
//! tokio's blocking pool: that pool runs hundreds of tasks at once on as many threads, and
//! every thread that ever hashed keeps its 19 MiB in its own allocator arena afterwards. The
//! soak test saw a burst of 50 logins leave each vertical at ~370–520 MiB instead of ~30 MiB
//! (with a semaphore alone still ~370 MiB: the arenas, not the concurrency, keep the memory).
//! On the hashing threads the same burst costs at most one buffer per core, reused; queued
//! logins wait their turn, which on the CPU they would have done anyway.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, LazyLock, Mutex};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads' queue (threads start on first use).
static HASHING: LazyLock<Sender<Job>> = LazyLock::new(|| {
    let (jobs, queue) = channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..hashing_threads() {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || loop {
            // The lock is held only while waiting for the next job, not while running it.
            let job = match queue.lock() {
                Ok(q) => q.recv(),
                Err(_) => return,
            };
            match job {
                Ok(job) => job(),
                Err(_) => return,
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a password hashing thread");
        }
    }
    jobs
});

fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs `work` on a hashing thread and waits for it without blocking the async worker.
async fn limited<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = done.send(outcome.map_err(|_| "password hashing panicked".to_string()));
    });
    HASHING.send(job).map_err(|_| "no password hashing thread".to_string())?;
    result.await.map_err(|_| "password hashing thread ended".to_string())?
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: String) -> Result<String, String> {
    limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
    })
    .await?
}

/// Checks a password against a stored hash. A malformed stored hash verifies as false.
pub async fn verify(password: String, stored: String) -> bool {
    limited(move || PasswordHash::new(&stored).map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// A hash of a random password nobody knows: verifying against it when the e-mail is unknown
/// makes "no such user" cost the same time as "wrong password".
pub async fn dummy_hash() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hash(hex::encode(bytes)).await.expect("hashing a random password cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        let slots = hashing_threads();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..slots * 4)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                tokio::spawn(limited(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= slots, "{} at once with {slots} slots", peak.load(Ordering::SeqCst));
        assert!(peak.load(Ordering::SeqCst) >= 1);
        // And real hashing still works through the limiter.
        let h = hash("a long enough password".into()).await.unwrap();
        assert!(verify("a long enough password".into(), h.clone()).await);
        assert!(!verify("another password".into(), h).await);
    }
}
