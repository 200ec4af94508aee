//! `pitr-console report JOURNAL`: the report of any run (recovery, incident, drill), as
//! Markdown on standard output (or JSON), and both written beside the journal when it is
//! this user's own to write beside; a trainee's, or a report of someone else's journal,
//! goes to `<state dir>/reports`.

use super::exit::Failure;
use crate::config::Role;
use crate::domain::zone::Zone;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run's journal file.
    pub journal: PathBuf,
    /// Print the JSON report instead of the Markdown one.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ReportArgs, role: Role, zone: Zone) -> Result<(), Failure> {
    let report = crate::report::load(&args.journal).map_err(Failure::bad_input)?;
    if args.json {
        println!("{}", crate::report::json(&report));
    } else {
        print!("{}", crate::report::markdown(&report, &zone));
    }
    // The report was printed already: a place it cannot be written to is only said.
    let written = match own_directory(&args.journal, role) {
        true => crate::report::write(&report, &zone).map_err(|e| e.to_string()),
        false => crate::engine::state_dir::current()
            .map_err(|e| e.to_string())
            .and_then(|s| {
                crate::report::write_in(&report, &zone, &s.path().join("reports"))
                    .map_err(|e| e.to_string())
            }),
    };
    match written {
        Ok((md, js)) => eprintln!("Report written to {} and {}", md.display(), js.display()),
        Err(e) => eprintln!(
            "pitr-console: the report of {} could not be written: {e}",
            args.journal.display()
        ),
    }
    Ok(())
}

/// Whether a report may go beside `journal`: never for a trainee, and only in a directory
/// of this user's that nobody else may write.
fn own_directory(journal: &std::path::Path, role: Role) -> bool {
    use std::os::unix::fs::MetadataExt;
    let dir = match journal.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    role != Role::Trainee
        && std::fs::symlink_metadata(dir).is_ok_and(|m| {
            m.is_dir() && m.uid() == nix::unistd::Uid::effective().as_raw() && m.mode() & 0o022 == 0
        })
}
