//! `stormscope`: one binary, a subcommand per role.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's allocator: decoding a report is allocation-heavy, and it cut
/// the decode of a busy host's report by a third (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    stormscope_shared::allocator::tune();
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
