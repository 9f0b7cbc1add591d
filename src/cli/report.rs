use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::inspect::Summary;
use stormscope_shared::{Format, Limits, Report};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Summarise a report: topologies and node counts, time, window, probe and host ids.
    ///
    /// Reads gzip or plain, JSON or msgpack, telling them apart by content.
    Inspect {
        /// The report file, or `-` for standard input.
        file: PathBuf,
    },
    /// Re-encode a report as JSON (as Scope's Go encoder writes it) or msgpack (as probes send it).
    Convert {
        /// The report file, or `-` for standard input.
        file: PathBuf,
        /// The encoding to write.
        #[arg(long, value_enum)]
        to: Target,
        /// Gzip the output, as probes do on the wire.
        #[arg(long)]
        gzip: bool,
        /// Where to write; standard output when omitted.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Target {
    Json,
    Msgpack,
}

pub fn run(cmd: ReportCommand) -> anyhow::Result<()> {
    match cmd {
        ReportCommand::Inspect { file } => {
            let report = read_report(&file)?;
            print!("{}", Summary::of(&report));
            Ok(())
        }
        ReportCommand::Convert {
            file,
            to,
            gzip,
            output,
        } => {
            let report = read_report(&file)?;
            let format = match to {
                Target::Json => Format::Json,
                Target::Msgpack => Format::Msgpack,
            };
            let compression = if gzip {
                Compression::Gzip
            } else {
                Compression::Identity
            };
            let bytes = codec::encode(&report, format, compression);
            match output {
                Some(path) => std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display())),
                None => {
                    if matches!(format, Format::Msgpack) || gzip {
                        refuse_binary_to_terminal()?;
                    }
                    std::io::stdout()
                        .lock()
                        .write_all(&bytes)
                        .context("writing to standard output")
                }
            }
        }
    }
}

fn read_report(file: &PathBuf) -> anyhow::Result<Report> {
    let limits = Limits::default();
    let mut body = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limits.max_compressed_bytes as u64 + 1)
            .read_to_end(&mut body)
            .context("reading standard input")?;
    } else {
        let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        f.take(limits.max_compressed_bytes as u64 + 1)
            .read_to_end(&mut body)
            .with_context(|| format!("reading {}", file.display()))?;
    }
    let name = file.display();
    codec::decode_sniffed(&body, &limits).with_context(|| format!("{name} is not a Scope report"))
}

/// Binary output on a terminal only garbles it; ask for `-o` instead.
fn refuse_binary_to_terminal() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        bail!("refusing to write binary output to a terminal; use --output FILE or a pipe");
    }
    Ok(())
}
