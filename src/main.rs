//! `stormscope`: one binary, a subcommand per role.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, whatever the cause chain: operators grep for it and scripts print it.
            eprintln!("stormscope: {err:#}");
            ExitCode::FAILURE
        }
    }
}
