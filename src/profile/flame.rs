//! Folded stacks (`frame;frame;frame COUNT`, one per line, as inferno and
//! Brendan Gregg's scripts use them): writing, reading, rendering to an SVG
//! flame graph, differential graphs, and the few numbers read off them.

use super::ProfileError;
use std::collections::BTreeMap;
use std::path::Path;

/// Stacks (root first, frames joined by `;`) and how many samples each got.
pub type Folded = BTreeMap<String, u64>;

pub fn total_samples(stacks: &Folded) -> u64 {
    stacks.values().sum()
}

/// Makes a frame name safe for the folded format (`;` separates frames).
pub fn clean_frame(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}

/// Parses folded text; lines that do not end in a count are skipped.
pub fn parse_folded(text: &str) -> Folded {
    let mut stacks = Folded::new();
    for line in text.lines() {
        let Some((stack, count)) = line.trim_end().rsplit_once(' ') else {
            continue;
        };
        if let Ok(n) = count.parse::<u64>() {
            *stacks.entry(stack.to_string()).or_default() += n;
        }
    }
    stacks
}

pub fn to_text(stacks: &Folded) -> String {
    let mut text = String::new();
    for (stack, n) in stacks {
        text.push_str(stack);
        text.push(' ');
        text.push_str(&n.to_string());
        text.push('\n');
    }
    text
}

pub fn read_folded(path: &Path) -> Result<Folded, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError::io(path, e))?;
    let stacks = parse_folded(&text);
    if stacks.is_empty() {
        return Err(ProfileError::NotFolded(path.to_path_buf()));
    }
    Ok(stacks)
}

/// Share of samples whose stack has a frame containing `needle`.
pub fn share_with_frame(stacks: &Folded, needle: &str) -> f64 {
    let total = total_samples(stacks);
    if total == 0 {
        return 0.0;
    }
    let hits: u64 = stacks
        .iter()
        .filter(|(s, _)| s.split(';').any(|f| f.contains(needle)))
        .map(|(_, n)| n)
        .sum();
    hits as f64 / total as f64
}

/// The functions most often on top of the stack (self time), busiest first.
pub fn top_self(stacks: &Folded, n: usize) -> Vec<(String, u64)> {
    let mut by_leaf: BTreeMap<&str, u64> = BTreeMap::new();
    for (stack, count) in stacks {
        let leaf = stack.rsplit(';').next().unwrap_or(stack);
        *by_leaf.entry(leaf).or_default() += count;
    }
    let mut leaves: Vec<(String, u64)> = by_leaf
        .into_iter()
        .map(|(l, c)| (l.to_string(), c))
        .collect();
    leaves.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    leaves.truncate(n);
    leaves
}

fn flame_options(title: &str) -> inferno::flamegraph::Options<'static> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_string();
    options.count_name = "samples".to_string();
    options
}

fn render_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    title: &str,
    svg: &Path,
) -> Result<(), ProfileError> {
    let mut options = flame_options(title);
    let mut bytes = Vec::new();
    inferno::flamegraph::from_lines(&mut options, lines, &mut bytes)
        .map_err(|e| ProfileError::Render(e.to_string()))?;
    crate::report::write_atomic(svg, &bytes).map_err(|e| ProfileError::io(svg, e))
}

/// Writes `stacks` to `folded` and renders them to `svg`.
pub fn write_flamegraph(
    stacks: &Folded,
    title: &str,
    folded: &Path,
    svg: &Path,
) -> Result<(), ProfileError> {
    let text = to_text(stacks);
    crate::report::write_atomic(folded, text.as_bytes())
        .map_err(|e| ProfileError::io(folded, e))?;
    render_lines(text.lines(), title, svg)
}

/// A differential flame graph: the shape of `new`, coloured by how each
/// frame's share changed since `old` (red grew, blue shrank).
pub fn write_differential(
    old: &Path,
    new: &Path,
    title: &str,
    svg: &Path,
) -> Result<(), ProfileError> {
    read_folded(old)?;
    let mut diff = Vec::new();
    inferno::differential::from_files(
        inferno::differential::Options::default(),
        old,
        new,
        &mut diff,
    )
    .map_err(|e| ProfileError::Render(format!("differential of {}: {e}", old.display())))?;
    let text = String::from_utf8_lossy(&diff);
    render_lines(text.lines(), title, svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Folded {
        parse_folded(
            "main;run;burn_cpu 60\nmain;run;serde::encode 30\nmain;idle 10\nnot a line\n\
             main;run;burn_cpu 5\n",
        )
    }

    #[test]
    fn parses_and_merges_folded_lines() {
        let s = sample();
        assert_eq!(s.len(), 3);
        assert_eq!(s.get("main;run;burn_cpu"), Some(&65));
        assert_eq!(total_samples(&s), 105);
        assert_eq!(parse_folded(&to_text(&s)), s);
    }

    #[test]
    fn share_counts_stacks_through_a_frame() {
        let s = sample();
        assert!((share_with_frame(&s, "burn_cpu") - 65.0 / 105.0).abs() < 1e-12);
        assert!((share_with_frame(&s, "run") - 95.0 / 105.0).abs() < 1e-12);
        assert_eq!(share_with_frame(&Folded::new(), "x"), 0.0);
    }

    #[test]
    fn top_self_ranks_leaves() {
        assert_eq!(
            top_self(&sample(), 2),
            vec![
                ("burn_cpu".to_string(), 65),
                ("serde::encode".to_string(), 30)
            ]
        );
    }

    #[test]
    fn clean_frame_keeps_the_format_intact() {
        assert_eq!(
            clean_frame("<[u8; 4] as Foo>::bar\n"),
            "<[u8: 4] as Foo>::bar "
        );
    }

    #[test]
    fn renders_plain_and_differential_svgs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (old, new) = (dir.path().join("old.folded"), dir.path().join("new.folded"));
        let svg = dir.path().join("new.svg");
        write_flamegraph(&sample(), "title with a name", &old, &svg).expect("render");
        let text = std::fs::read_to_string(&svg).expect("svg");
        assert!(text.contains("<svg") && text.contains("title with a name"));
        assert!(text.contains("burn_cpu"));
        let mut changed = sample();
        changed.insert("main;run;burn_cpu".into(), 200);
        write_flamegraph(&changed, "new", &new, &svg).expect("render");
        let diff = dir.path().join("diff.svg");
        write_differential(&old, &new, "diff", &diff).expect("diff");
        assert!(std::fs::read_to_string(&diff)
            .expect("svg")
            .contains("burn_cpu"));
        let empty = dir.path().join("empty.folded");
        std::fs::write(&empty, "").expect("write");
        let err = write_differential(&empty, &new, "diff", &diff).expect_err("empty");
        assert!(err.to_string().contains("no folded stacks"), "{err}");
    }
}
