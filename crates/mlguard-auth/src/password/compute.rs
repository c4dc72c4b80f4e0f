//! Argon2 runs on reused block buffers, and the hasher's Argon2 threads that keep them.

use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, mpsc};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

thread_local! {
    /// The Argon2 block buffer of an Argon2 thread (`None` on every other thread).
    static BLOCKS: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Runs Argon2 into `out` with the calling Argon2 thread's block buffer (grown to the block
/// count on first use and kept), or with a buffer for this run only on any other thread.
/// `hash_password_into_with_memory` assigns every block in its first pass before any read, so
/// the buffer's previous contents (another password's blocks) never reach the output.
pub(super) fn argon2_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let reused = BLOCKS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => slot
            .as_mut()
            .map(|blocks| argon2_with(blocks, argon2, password, salt, &mut *out)),
        Err(_) => None,
    });
    match reused {
        Some(ok) => ok,
        None => argon2_with(&mut Vec::new(), argon2, password, salt, out),
    }
}

/// Runs Argon2 into `out` in `blocks`, grown to the parameters' block count when shorter.
fn argon2_with(
    blocks: &mut Vec<Block>,
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> bool {
    let count = argon2.params().block_count();
    if blocks.len() < count {
        if blocks.try_reserve_exact(count - blocks.len()).is_err() {
            return false;
        }
        blocks.resize(count, Block::default());
    }
    blocks.get_mut(..count).is_some_and(|mem| {
        argon2
            .hash_password_into_with_memory(password, salt, out, mem)
            .is_ok()
    })
}

/// Whether `password` matches `hash`, exactly as strict as `argon2`'s own
/// `PasswordVerifier::verify_password` (password-hash 0.6): salt and hash must be present, the
/// algorithm identifier must be argon2d, argon2i or argon2id, the version 0x10 or 0x13 (0x13
/// when absent), the parameters (m, t, p, keyid, data) valid, the output length is the stored
/// hash's, and the outputs are compared in constant time. Computed with [`argon2_into`].
pub(super) fn verify_phc(password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    let mut buffer = Zeroizing::new([0u8; Output::MAX_LENGTH]);
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    argon2_into(&argon2, password, salt.as_ref(), out) && bool::from(out.ct_eq(expected.as_bytes()))
}

/// One hash or verification for an Argon2 thread.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// Starts `count` threads that run jobs from one queue until its sender is dropped (with the
/// hasher). A job that panics does not take its thread down.
pub(super) fn start_workers(count: usize) -> Option<mpsc::Sender<Job>> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut started = 0;
    for i in 0..count {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("mlguard-argon2-{i}"))
            .spawn(move || {
                lower_priority();
                BLOCKS.with(|cell| *cell.borrow_mut() = Some(Vec::new()));
                loop {
                    let job = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(job) = job else { break };
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(error) => tracing::error!(%error, "could not start an Argon2 thread"),
        }
    }
    (started > 0).then_some(sender)
}

/// Puts the calling Argon2 thread at the lowest priority, so a login flood takes only the CPU
/// the API leaves idle (scripts/login-flood). On Linux that is the `SCHED_IDLE` policy: a
/// request thread that wakes up preempts an Argon2 run at once, where under nice 19 it could
/// wait for the scheduler's next tick, which is what set `/predict`'s p99 under a flood.
/// Elsewhere, or when the policy cannot be set, the lowest nice value. Failing both leaves the
/// thread as it was (logged at debug).
fn lower_priority() {
    use thread_priority::{ThreadPriority, set_current_thread_priority};
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            Ok(()) => return,
            Err(error) => tracing::debug!(?error, "could not put an Argon2 thread on SCHED_IDLE"),
        }
    }
    if let Err(error) = set_current_thread_priority(ThreadPriority::Min) {
        tracing::debug!(?error, "could not lower the Argon2 thread's priority");
    }
}
