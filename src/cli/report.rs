use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::inspect::Summary;
use stormscope_shared::merge::fast_merge;
use stormscope_shared::segment::{self, SegmentEntry};
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Limits, Report};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Summarise a report: topologies and node counts, time, window, probe and host ids.
    ///
    /// Reads gzip or plain, JSON or msgpack, telling them apart by content, and the segment
    /// objects the collector writes to the object store (one line per report, then the merge).
    Inspect {
        /// The report file, or `-` for standard input.
        file: PathBuf,
    },
    /// Print the id of every report in the segment files found under each path (files, or
    /// directories searched recursively for `.seg` files), one a line: what an audit of the
    /// object store (scripts/chaos.sh) compares with what was acknowledged. A segment that does
    /// not decode is an error.
    Ids {
        /// Segment files or directories holding them (an s3s-fs or file:// bucket).
        paths: Vec<PathBuf>,
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
        ReportCommand::Ids { paths } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for path in paths {
                for file in segment_files(&path)? {
                    let bytes = std::fs::read(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let entries = segment::decode(&bytes)
                        .with_context(|| format!("{} is not a segment", file.display()))?;
                    for entry in entries {
                        let report = codec::decode_sniffed(&entry.body, &Limits::default())
                            .with_context(|| format!("{} in {}", entry.key, file.display()))?;
                        writeln!(out, "{}", report.id)?;
                    }
                }
            }
            out.flush()?;
            Ok(())
        }
        ReportCommand::Inspect { file } => {
            let body = read_input(&file)?;
            if segment::is_segment(&body) {
                return inspect_segment(&file, &body);
            }
            let report = decode(&file, &body)?;
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

/// A report file, or a segment from the object store (its reports merged as the app would).
fn read_report(file: &PathBuf) -> anyhow::Result<Report> {
    let body = read_input(file)?;
    if segment::is_segment(&body) {
        let reports = segment_reports(file, &body)?;
        return Ok(fast_merge(reports.iter().map(|(_, r)| r)));
    }
    decode(file, &body)
}

fn decode(file: &Path, body: &[u8]) -> anyhow::Result<Report> {
    let name = file.display();
    codec::decode_sniffed(body, &Limits::default())
        .with_context(|| format!("{name} is not a Scope report"))
}

fn segment_reports(file: &Path, body: &[u8]) -> anyhow::Result<Vec<(SegmentEntry, Report)>> {
    let entries = segment::decode(body)
        .with_context(|| format!("{} is a damaged segment", file.display()))?;
    entries
        .into_iter()
        .map(|entry| {
            let report = codec::decode_sniffed(&entry.body, &Limits::default())
                .with_context(|| format!("report {} in {}", entry.key, file.display()))?;
            Ok((entry, report))
        })
        .collect()
}

/// One line per report in the segment, then a summary of them merged.
fn inspect_segment(file: &Path, body: &[u8]) -> anyhow::Result<()> {
    let reports = segment_reports(file, body)?;
    println!("segment:   {} reports, {} bytes", reports.len(), body.len());
    for (entry, report) in &reports {
        let summary = Summary::of(report);
        let nodes: usize = summary.topologies.iter().map(|(_, n)| n).sum();
        let received = Timestamp::from_unix_millis(entry.received_ms);
        let probes: Vec<&str> = summary.probe_ids.iter().map(String::as_str).collect();
        println!(
            "  {} received {received} id {} probe {} nodes {nodes}",
            entry.key,
            report.id,
            if probes.is_empty() {
                "-".into()
            } else {
                probes.join(",")
            }
        );
    }
    println!("merged:");
    print!(
        "{}",
        Summary::of(&fast_merge(reports.iter().map(|(_, r)| r)))
    );
    Ok(())
}

fn read_input(file: &PathBuf) -> anyhow::Result<Vec<u8>> {
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
    Ok(body)
}

/// Binary output on a terminal only garbles it; ask for `-o` instead.
fn refuse_binary_to_terminal() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        bail!("refusing to write binary output to a terminal; use --output FILE or a pipe");
    }
    Ok(())
}

/// `path` itself when a file, else every `.seg` file under it.
fn segment_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut found = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let entry = entry?;
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|e| e == stormscope_shared::keys::SEGMENT_EXT)
            {
                found.push(p);
            }
        }
    }
    found.sort();
    Ok(found)
}
