//! Command-line surface. Every flag is also an environment variable `STORMSCOPE_<FLAG>`.

mod app;
mod check;
mod collector;
mod common;
mod loadgen;
mod probe;
mod report;
mod standalone;
mod tokens;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "stormscope",
    version,
    about = "Collects Weave Scope probe reports and serves the merged topology, through object-store and cache outages"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything in one process on 127.0.0.1:4040: the collector, the app and a local probe
    /// of this host, with embedded storage in --data-dir. Start here.
    Standalone(standalone::StandaloneArgs),
    /// Look into and convert report files (probe bodies, `/api/report` downloads).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Accept probe reports: spool, cache, then the object store in the background.
    Collector(collector::CollectorArgs),
    /// Serve Scope's UI API: a tenant's recent reports merged and rendered as Scope's views,
    /// from the cache or, when it lacks them, the object store.
    App(app::AppArgs),
    /// Post probe-like reports to a collector at a chosen rate and report what it acknowledged
    /// (and, with --query, how fast an app answers meanwhile).
    Loadgen(loadgen::LoadgenArgs),
    /// A local Scope probe: report this host, its processes and TCP connections (from /proc)
    /// to a collector every few seconds.
    Probe(probe::ProbeArgs),
    /// Post one report to a collector and wait until an app lists its host: the end-to-end
    /// check of a deployment (the Helm chart's `helm test`).
    Check(check::CheckArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Standalone(args) => standalone::run(args),
        Command::Report(cmd) => report::run(cmd),
        Command::Collector(args) => collector::run(args),
        Command::App(args) => app::run(args),
        Command::Loadgen(args) => loadgen::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Check(args) => check::run(args),
    }
}
