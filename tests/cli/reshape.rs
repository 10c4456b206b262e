//! The command line's shape (issue 8): a bad config file is refused by every command when it is
//! loaded, and shell completions and the man page come from the same clap definitions as the
//! commands themselves.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::cli::*;

/// `cab` as alice, holding both reviewing roles, in the test's own sealed folder.
fn cab_command<S: AsRef<std::ffi::OsStr>>(cab: &Cab, args: &[S]) -> Command {
    cab.cmd(args)
        .user("alice", "cab_member,security_reviewer")
        .into_command()
}

fn run(mut command: Command) -> Output {
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// One invocation of every command (and of the console), each able to reach its work if the
/// config were good. `serve` listens on an address that cannot be bound, so that it could not
/// keep running even if the config were accepted.
const EVERY_COMMAND: &[&[&str]] = &[
    &[],
    &[
        "submit",
        "--deployment",
        "d",
        "--evidence",
        "e",
        "--risk",
        "10",
    ],
    &["queue"],
    &["show", "0000000000"],
    &["approve", "0000000000", "--rationale", "ok"],
    &["reject", "0000000000", "--rationale", "no"],
    &[
        "exception",
        "create",
        "0000000000",
        "--justification",
        "j",
        "--control",
        "c",
    ],
    &["exception", "approve", "0000000000", "--rationale", "ok"],
    &["exception", "reject", "0000000000", "--rationale", "no"],
    &["exception", "list"],
    &["status", "d"],
    &["gate", "d"],
    &["cleanup"],
    &["verify"],
    &["audit", "export"],
    &["demo", "--requests", "3"],
    &["serve", "--listen", "256.0.0.1:1"],
    &["token", "new", "carol", "--role", "cab_member"],
];

#[test]
fn a_bad_theme_colour_or_server_role_is_invalid_config_for_every_command() {
    let cab = Cab::new();
    let bad = [
        ("[console]\ntheme = \"neon\"\n", "neon"),
        ("[console.colors]\nurgent = \"blurple\"\n", "blurple"),
        (
            "[[server.users]]\nname = \"carol\"\nroles = [\"admin\"]\ntoken_sha256 = \"00\"\n",
            "admin",
        ),
    ];
    for (text, named) in bad {
        let config = cab.file("bad.toml", text);
        for args in EVERY_COMMAND {
            let mut command = cab_command(&cab, args);
            command.arg("--json").arg("--config").arg(&config);
            let output = run(command);
            let what = format!("cab {} with {text:?}", args.join(" "));
            assert_eq!(output.status.code(), Some(2), "{what}: {}", stderr(&output));
            let body: Value = serde_json::from_str(&stdout(&output))
                .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e})"));
            assert_eq!(body["error"]["code"], "invalid_config", "{what}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(named), "{what}: {message}");
            assert!(message.contains("bad.toml"), "{what}: {message}");
            assert_eq!(stderr(&output).lines().count(), 1, "{what}");
            assert!(!cab.store().exists(), "{what} wrote a store");
        }
    }
}

#[test]
fn the_same_bad_theme_from_the_default_config_file_is_refused_too() {
    let cab = Cab::new();
    let folder = cab.dir().join("home/config/cab");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("config.toml"), "[console]\ntheme = \"neon\"\n").unwrap();
    let output = run(cab_command(&cab, &["queue"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown console theme \"neon\""));
}

#[test]
fn a_good_theme_and_colours_let_every_command_run() {
    let cab = Cab::new();
    let config = cab.file(
        "good.toml",
        "[console]\ntheme = \"monochrome\"\n[console.colors]\nurgent = \"light-red\"\naccent = \"#ff8800\"\n",
    );
    let mut command = cab_command(&cab, &["queue"]);
    command.arg("--config").arg(&config);
    let output = run(command);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

fn is_usage_error(output: &Output) -> bool {
    output.status.code() == Some(2) && stdout(output).is_empty()
}

/// Every subcommand's name, from the command line's own help.
fn subcommands(cab: &Cab) -> Vec<String> {
    let help = stdout(&run(cab_command(cab, &["--help"])));
    let commands = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("Options:").next())
        .unwrap_or_default();
    // A name is indented two spaces; a wrapped description, further.
    let names: Vec<String> = commands
        .lines()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    names
}

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    let cab = Cab::new();
    let names = subcommands(&cab);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = run(cab_command(&cab, &["completions", shell]));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{shell}: {}",
            stderr(&output)
        );
        let script = stdout(&output);
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell} lacks {name}");
        }
        let store_option = if shell == "fish" {
            "-l store"
        } else {
            "--store"
        };
        assert!(
            script.contains(store_option),
            "{shell} lacks the global options"
        );
    }
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error() {
    let cab = Cab::new();
    let output = run(cab_command(&cab, &["completions", "tcsh"]));
    assert!(is_usage_error(&output), "{output:?}");
    assert!(stderr(&output).contains("tcsh"));
    let output = run(cab_command(&cab, &["completions"]));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_naming_every_subcommand() {
    let cab = Cab::new();
    let names = subcommands(&cab);
    let output = run(cab_command(&cab, &["man"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = stdout(&output);
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "{page:.200}"
    );
    assert!(page.contains(".TH cab 1"), "{page:.200}");
    for name in &names {
        assert!(page.contains(name.as_str()), "the man page lacks {name}");
    }
    assert!(
        page.contains("Exit codes"),
        "the man page lacks the exit codes"
    );
}

#[test]
fn completions_and_the_man_page_need_no_config_or_store() {
    let cab = Cab::new();
    let config = cab.file("bad.toml", "[console]\ntheme = \"neon\"\n");
    for args in [&["completions", "bash"][..], &["man"]] {
        let mut command = cab_command(&cab, args);
        command.arg("--config").arg(&config);
        let output = run(command);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!Path::new(&cab.store()).exists());
    }
}
