//! `pitr-console report JOURNAL`: the report of any run (recovery, incident, drill), as
//! Markdown on standard output (or JSON), and both written beside the journal.

use super::exit::Failure;
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

pub fn run(args: ReportArgs, zone: Zone) -> Result<(), Failure> {
    let report = crate::report::load(&args.journal).map_err(Failure::bad_input)?;
    if args.json {
        println!("{}", crate::report::json(&report));
    } else {
        print!("{}", crate::report::markdown(&report, &zone));
    }
    // Someone else's journal may sit in a directory this user cannot write: the report
    // was still printed.
    match crate::report::write(&report, &zone) {
        Ok((md, js)) => eprintln!("Report written to {} and {}", md.display(), js.display()),
        Err(e) => eprintln!(
            "pitr-console: the report could not be written beside {}: {e}",
            args.journal.display()
        ),
    }
    Ok(())
}
