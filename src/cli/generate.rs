//! Shell completions and the man page, generated from the clap definitions in `args.rs`, so
//! they name exactly the commands and options there are. Neither reads a config or a store.

use clap::CommandFactory;

use super::args::{Cli, Shell};
use super::exit::CliError;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Result<Vec<u8>, CliError> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "cab", &mut out);
    Ok(out)
}

/// The man page `cab(1)` in roff.
pub fn man() -> Result<Vec<u8>, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
}
