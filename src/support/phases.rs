//! Phase marks for profiling a large project: with `COMPARTMENT_PHASES=1`
//! in the environment, each mark prints to standard error the time since
//! the previous one and since the process started, with the resident and
//! peak resident memory (Linux), e.g. `phase parse +21.3 ms (24.0 ms) rss
//! 30.1 MiB peak 30.1 MiB`. Without it a mark costs one relaxed load. Names
//! only: never a value of the project.

use std::sync::OnceLock;
use std::time::Instant;

/// Start and previous mark, when enabled.
static CLOCK: OnceLock<Option<std::sync::Mutex<(Instant, Instant)>>> = OnceLock::new();

/// Records the end of phase `name`.
pub fn mark(name: &str) {
    let clock = CLOCK.get_or_init(|| {
        std::env::var_os("COMPARTMENT_PHASES").map(|_| {
            let now = Instant::now();
            std::sync::Mutex::new((now, now))
        })
    });
    let Some(clock) = clock else {
        return;
    };
    let Ok(mut times) = clock.lock() else {
        return;
    };
    let now = Instant::now();
    let (start, last) = *times;
    times.1 = now;
    let (rss, peak) = memory();
    eprintln!(
        "phase {name} +{:.1} ms ({:.1} ms) rss {rss:.1} MiB peak {peak:.1} MiB",
        (now - last).as_secs_f64() * 1e3,
        (now - start).as_secs_f64() * 1e3,
    );
}

/// Resident and peak resident memory in MiB, from `/proc/self/status`.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
