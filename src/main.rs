//! The `compartment` binary: parse arguments, run the command, render an
//! error once, exit with the command's code (0 ok, 1 any error including a
//! usage error, 2 only for `plan --detailed-exitcode`'s "changes present",
//! 130 after Ctrl-C).

use clap::Parser;
use compartment::cli::{args::Arguments, render_error, Context};

/// jemalloc rather than the system allocator: fewer instructions and less
/// time for the many small allocations of a large plan (Cargo.toml).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`, a C string). One arena for all
/// threads, so what the loading threads free (the scanner's strings, the
/// instances decoded aside) is reused by the planner rather than kept
/// aside in arenas of their own; and allocations of 1 MiB and more (the
/// position index, the YAML text, the vectors a large project grows
/// through) from the arena that gives freed memory back at once, so they
/// do not stay resident once dropped. Peak memory of the 10,000-node plan
/// with the loading threads: 74 MiB with jemalloc's defaults, 66 MiB with
/// one arena, 56 MiB with both (docs/benchmarks.md).
#[cfg(not(target_env = "msvc"))]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: MallocConf = MallocConf(c"narenas:1,oversize_threshold:1048576".as_ptr());

/// A pointer to a static C string, as jemalloc reads `malloc_conf`.
#[cfg(not(target_env = "msvc"))]
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);

// SAFETY: it points to an immutable static string.
#[cfg(not(target_env = "msvc"))]
unsafe impl Sync for MallocConf {}

fn main() {
    compartment::support::phases::mark("start");
    quiet_on_closed_stdout();
    let args = match Arguments::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // Help and version go to stdout and exit 0; usage errors exit 1,
            // never 2, which `--detailed-exitcode` reserves for changes.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let cx = Context::new(args.global);
    let code = match args.command.execute(&cx) {
        Ok(code) => code,
        Err(compartment::error::Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            render_error(&cx, &e);
            e.exit_code()
        }
    };
    compartment::cli::notices();
    compartment::support::parallel::settle();
    // Exits without dropping the runtime: a prompt abandoned by Ctrl-C may
    // still hold a blocking thread on standard input.
    std::process::exit(code);
}

/// A reader that stopped early (`compartment plan | head -1`) ends the
/// process quietly with 0, like `git log | head`, instead of a panic from
/// `println!` on a broken pipe.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
