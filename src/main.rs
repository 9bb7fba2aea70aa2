//! The `compartment` binary: parse arguments, run the command, render an
//! error once, exit with the command's code.

use clap::Parser;
use compartment::cli::{args::Arguments, render_error, Context};

fn main() {
    let args = Arguments::parse();
    let cx = Context::new(args.global);
    let code = match args.command.execute(&cx) {
        Ok(code) => code,
        Err(e) => {
            render_error(&cx, &e);
            e.exit_code()
        }
    };
    // Exits without dropping the runtime: a prompt abandoned by Ctrl-C may
    // still hold a blocking thread on standard input.
    std::process::exit(code);
}
