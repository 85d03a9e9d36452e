//! One vocabulary across commands, read from `mcptop help` of each: the
//! measured time is `-d, --duration`, the file a command writes its result
//! to is `-o, --out`, the output format `--format`; no command spells them
//! another way (`--seconds`, `--result`, `--output`, `-o` for a flame graph).

use crate::harness::TestDir;

/// The commands `mcptop help` lists (with `baseline save` for `baseline`).
fn commands(dir: &TestDir) -> Vec<Vec<String>> {
    let top = help(dir, &[]);
    let listed = top
        .split_once("Commands:")
        .and_then(|(_, rest)| rest.split_once("\n\n"))
        .map(|(list, _)| list)
        .unwrap_or_else(|| panic!("no command list:\n{top}"));
    let mut all = Vec::new();
    for line in listed.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        match name {
            "help" => {}
            "baseline" => all.push(vec!["baseline".into(), "save".into()]),
            _ => all.push(vec![name.to_string()]),
        }
    }
    all
}

fn help(dir: &TestDir, command: &[String]) -> String {
    let out = dir
        .mcptop()
        .arg("help")
        .args(command)
        .output()
        .expect("mcptop help");
    assert_eq!(out.status.code(), Some(0), "mcptop help {command:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The option lines of a help text (those that start with a flag), trimmed.
fn option_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .collect()
}

#[test]
fn every_command_spells_duration_out_and_format_alike() {
    let dir = TestDir::new();
    let commands = commands(&dir);
    assert!(commands.len() >= 12, "{commands:?}");
    let mut seen_out = Vec::new();
    for command in &commands {
        let text = help(&dir, command);
        for line in option_lines(&text) {
            let flag = line.split_whitespace().collect::<Vec<_>>();
            for wrong in ["--seconds", "--result", "--output", "--fmt", "--time"] {
                assert!(
                    !flag.contains(&wrong) && !flag.contains(&&*format!("{wrong},")),
                    "`{}` has {wrong}: {line}",
                    command.join(" ")
                );
            }
            let has = |f: &str| flag.iter().any(|w| w.trim_end_matches(',') == f);
            if has("-o") || has("--out") {
                assert!(line.starts_with("-o, --out <"), "{command:?}: {line}");
                seen_out.push(command.join(" "));
            }
            if has("--duration") || has("-d") {
                assert!(line.starts_with("-d, --duration <"), "{command:?}: {line}");
            }
            if has("--format") {
                assert!(line.starts_with("--format <FORMAT>"), "{command:?}: {line}");
            }
        }
    }
    // The commands that write a file all call it --out.
    for writer in ["run", "profile", "calibrate", "report", "merge"] {
        assert!(
            seen_out.iter().any(|c| c == writer),
            "{writer}: {seen_out:?}"
        );
    }
    // `profile --out` is its result file, as `run --out`; the graph has its own flag.
    let profile = help(&dir, &["profile".to_string()]);
    let (_, from_out) = profile.split_once("-o, --out").expect("profile --out");
    let described: String = from_out.lines().take(3).collect();
    assert!(described.contains("Result file (JSON)"), "{described}");
    assert!(profile.contains("--svg <FILE>"), "{profile}");
}
