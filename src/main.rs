//! The `compartment` binary: parse arguments, run the command, map the
//! result to an exit code. Errors are rendered here and only here.

use clap::Parser;
use compartment::cli::{args::Arguments, Context};
use compartment::error::Error;

fn main() {
    let args = Arguments::parse();
    let cx = Context::new(args.global);
    let code = match args.command.execute(&cx) {
        Ok(code) => code,
        Err(Error::Exit(code)) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    std::process::exit(code);
}
