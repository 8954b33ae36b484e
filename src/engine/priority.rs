//! The window before the computing: the worker thread lowers its own scheduling priority when it
//! starts, and every thread it starts inherits it (training, the evaluation of a scored set, and
//! burn's rayon pool, which the first computation creates). On a machine with few cores the
//! window then draws and answers a slider at once while training and scoring take what is left.
//! Linux only (a nice value of 10 for this thread); elsewhere nothing changes.

/// The nice value of the worker's threads (0 is normal, 19 the lowest priority).
#[cfg(target_os = "linux")]
const BACKGROUND_NICE: libc::c_int = 10;

/// Lowers the calling thread's priority (never raises it, when the whole app already runs niced);
/// threads it starts afterwards inherit it.
#[cfg(target_os = "linux")]
pub fn lower_this_thread() {
    // SAFETY: gettid, getpriority and setpriority take no pointers; on Linux PRIO_PROCESS with a
    // thread id reads and sets that thread's nice value alone.
    let result = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, current.max(BACKGROUND_NICE))
    };
    if result != 0 {
        let why = std::io::Error::last_os_error();
        tracing::warn!("could not lower the worker's priority: {why}");
    }
}

/// Elsewhere the process has one priority for all its threads: the window's is left alone.
#[cfg(not(target_os = "linux"))]
pub fn lower_this_thread() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i64 {
        // SAFETY: gettid takes no arguments.
        let tid = unsafe { libc::gettid() };
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        // Fields after the parenthesised name: state is field 3, nice field 19.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn the_worker_and_the_threads_it_starts_run_below_the_window() {
        // The test itself may run niced (CI under `nice`): expect the lower of the two.
        let base = nice_of_this_thread();
        let background = base.max(i64::from(BACKGROUND_NICE));
        let (own, child) = std::thread::spawn(|| {
            lower_this_thread();
            let child = std::thread::spawn(nice_of_this_thread).join().unwrap();
            (nice_of_this_thread(), child)
        })
        .join()
        .unwrap();
        assert_eq!((own, child), (background, background));
        assert_eq!(
            nice_of_this_thread(),
            base,
            "the calling thread keeps its priority"
        );
    }
}
