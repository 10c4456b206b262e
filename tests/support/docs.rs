//! The tested snippets of docs/integrations.md: the fenced block after a `<!-- tested: NAME
//! -->` marker, run as the doc prints it, and whether the tools a snippet needs are here.

use std::process::{Command, Stdio};

const INTEGRATIONS: &str = include_str!("../../docs/integrations.md");

/// The text of the fenced block right after the `<!-- tested: NAME -->` marker.
pub fn snippet(name: &str) -> String {
    let marker = format!("<!-- tested: {name} -->");
    let after = INTEGRATIONS
        .split_once(&marker)
        .unwrap_or_else(|| panic!("docs/integrations.md has no {marker}"))
        .1;
    let fence = after
        .split_once("```")
        .expect("a fenced block after the marker")
        .1;
    let body = fence.split_once('\n').expect("a fence line").1;
    body.split_once("```")
        .expect("the block ends")
        .0
        .to_string()
}

/// Whether every one of these programs is on PATH. Without them a snippet test says so and
/// stops, unless CAB_TEST_SNIPPETS=required (`.ci/run` installs the tools and sets it).
pub fn tools(names: &[&str]) -> bool {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let present = names.iter().all(|t| have(t));
    if !present {
        assert_ne!(
            std::env::var("CAB_TEST_SNIPPETS").as_deref(),
            Ok("required"),
            "{names:?} are required to test docs/integrations.md"
        );
        eprintln!("{names:?} missing: the docs/integrations.md snippet is not run");
    }
    present
}
