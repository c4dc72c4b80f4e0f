//! Issue 14: a login flood takes only the CPU the API leaves idle. The hasher's Argon2 threads
//! run under Linux's `SCHED_IDLE` policy, so a request thread that wakes up preempts an Argon2
//! run at once (under nice 19 it could wait for the scheduler's next tick: that set `/predict`'s
//! p99 under `scripts/login-flood`). Read from `/proc`, as the kernel sees the threads.
#![cfg(target_os = "linux")]

use mlguard_auth::password::PasswordHasher;

/// `SCHED_IDLE` in `<sched.h>`.
const SCHED_IDLE: u32 = 5;

/// (thread name, scheduling policy) of every thread of this process, from
/// `/proc/self/task/<tid>/stat` (field 41 is `policy`; the name in field 2 may hold spaces or
/// parentheses, so fields are counted after its last `)`).
fn threads() -> Vec<(String, u32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let after_name = &stat[stat.rfind(')').unwrap() + 1..];
        // Fields 3.. follow the name: field 41 is the 39th of them.
        let policy = after_name.split_whitespace().nth(38).unwrap().parse().unwrap();
        found.push((comm.trim_end().to_owned(), policy));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argon2_threads_run_under_sched_idle_and_request_threads_do_not() {
    let hasher = PasswordHasher::new();
    // The first hash starts the Argon2 threads; each lowers itself before its first job.
    let phc = hasher.hash_async("pw".to_owned().into()).await.unwrap();
    assert!(phc.starts_with("$argon2id$"));
    let all = threads();
    // Thread names are cut to 15 bytes by the kernel: "mlguard-argon2-".
    let argon2: Vec<_> = all
        .iter()
        .filter(|(name, _)| name.starts_with("mlguard-argon2"))
        .collect();
    assert!(!argon2.is_empty(), "no Argon2 thread found among {all:?}");
    for (name, policy) in &argon2 {
        assert_eq!(
            *policy, SCHED_IDLE,
            "{name} runs under policy {policy}, not SCHED_IDLE"
        );
    }
    // Control: the runtime's own threads keep the normal policy (0, SCHED_OTHER), so the check
    // above reads a field that does tell policies apart.
    let workers: Vec<_> = all
        .iter()
        .filter(|(name, _)| name.starts_with("tokio-rt-worker"))
        .collect();
    assert!(!workers.is_empty(), "no runtime thread found among {all:?}");
    for (name, policy) in workers {
        assert_eq!(*policy, 0, "{name} runs under policy {policy}");
    }
}
