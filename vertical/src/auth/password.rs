//! Argon2id password hashing with OWASP's parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is CPU-bound (tens of milliseconds) and works in 19 MiB, so it runs on a few
//! threads of its own (one per core), each reusing one working buffer — never on the async
//! workers that serve other requests, nor on tokio's blocking pool. The soak test found that
//! the obvious way (`spawn_blocking` + the argon2 crate's own per-hash allocation) leaves memory
//! behind: every hash allocated a fresh, 64-byte-aligned 19 MiB that the allocator could not
//! reuse, so each vertical grew by ~17 MiB per login up to ~240 MiB (and to ~500 MiB with
//! concurrent logins spreading over many threads' arenas). Now a burst of logins costs one
//! buffer per core, allocated once; queued logins wait their turn, which on the CPU they would
//! have done anyway.

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, LazyLock, Mutex};

fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid")
}

thread_local! {
    /// A hashing thread's working memory: allocated by its first hash, reused by every other.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `password` and `salt` under `argon`, `len` bytes long, in this thread's memory.
fn compute(argon: &Argon2<'_>, params: &Params, password: &[u8], salt: &Salt<'_>, len: usize) -> Result<Output, argon2::password_hash::Error> {
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::default());
        }
        Output::init_with(len, |out| Ok(argon.hash_password_into_with_memory(password, salt, out, &mut memory[..])?))
    })
}

fn hash_here(password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let params = params();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let output = compute(&argon, &params, password, &salt.as_salt(), Params::DEFAULT_OUTPUT_LEN)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// What `PasswordVerifier::verify_password` does, in this thread's memory; the comparison of
/// outputs is constant-time (`Output`'s equality).
fn verify_here(password: &[u8], stored: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(phc.algorithm), Params::try_from(&phc)) else { return false };
    let Ok(version) = phc.version.map(Version::try_from).transpose() else { return false };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params.clone());
    compute(&argon, &params, password, &salt, expected.len()).is_ok_and(|computed| computed == expected)
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
    limited(move || hash_here(password.as_bytes()).map_err(|e| e.to_string())).await?
}

/// Checks a password against a stored hash. A malformed stored hash verifies as false.
pub async fn verify(password: String, stored: String) -> bool {
    limited(move || verify_here(password.as_bytes(), &stored)).await.unwrap_or(false)
}

/// A hash of a random password nobody knows: verifying against it when the e-mail is unknown
/// makes "no such user" cost the same time as "wrong password".
///
/// Made once at start-up with the argon2 crate's own, transient allocation rather than on a
/// hashing thread: an idle vertical that nobody logged in to yet then holds no 19 MiB buffer.
pub async fn dummy_hash() -> String {
    use argon2::password_hash::PasswordHasher;
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let password = hex::encode(bytes);
    tokio::task::spawn_blocking(move || {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        argon.hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng)).map(|h| h.to_string())
    })
    .await
    .expect("hashing does not panic")
    .expect("hashing a random password cannot fail")
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
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_argon2id_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash("a long enough password".into()).await.unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        assert!(verify("a long enough password".into(), ours.clone()).await);
        assert!(!verify("another password".into(), ours.clone()).await);
        assert!(!verify("a long enough password".into(), "not a hash".into()).await);
        let stock = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        stock.verify_password(b"a long enough password", &PasswordHash::new(&ours).unwrap()).expect("the crate's verifier accepts ours");
        // Hashes stored before (made by the crate's own hasher) still verify.
        let before = stock.hash_password(b"stored earlier", &SaltString::generate(&mut OsRng)).unwrap().to_string();
        assert!(verify("stored earlier".into(), before.clone()).await);
        assert!(!verify("stored earlier!".into(), before).await);
    }
}
