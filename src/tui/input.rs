//! Keys to actions: the one place that knows which key does what, as a pure
//! function of the key and the screen's mode, so it is unit tested without a
//! terminal.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Which screen the keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The live run.
    Live,
    /// The live run with the help box open.
    Help,
    /// The workload picker; `editing` when the target field has the focus.
    Picker { editing: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    TogglePause,
    /// More load: a higher rate (open loop) or more in flight (closed loop).
    LoadUp,
    LoadDown,
    NarrowWindow,
    WidenWindow,
    CaptureProfile,
    SaveBaseline,
    BackToPicker,
    ToggleHelp,
    CloseHelp,
    /// Corrected (from the planned start) or service time.
    ToggleLatency,
    /// Tab / Shift-Tab: the scenario `+`/`-` act on.
    NextScenario,
    PrevScenario,
    /// Scroll the operations table by this many rows (down is positive).
    ScrollOps(i16),
    Up,
    Down,
    Start,
    FocusTarget,
    FocusList,
    Type(char),
    Erase,
}

pub fn action(key: KeyEvent, mode: &Mode) -> Option<Action> {
    // Some terminals report releases too; one press is one action.
    if key.kind == KeyEventKind::Release {
        return None;
    }
    // Raw mode turns Ctrl-C into a key: it must still quit.
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') | KeyCode::Char('C') => Some(Action::Quit),
            _ => None,
        };
    }
    // Esc then a key in quick succession arrives as Alt+key: in the target
    // field that is leaving the field, not typing the key.
    if key.modifiers.contains(KeyModifiers::ALT) && *mode == (Mode::Picker { editing: true }) {
        return Some(Action::FocusList);
    }
    match mode {
        Mode::Live => live(key.code),
        Mode::Help => match key.code {
            KeyCode::Esc | KeyCode::Char('?') => Some(Action::CloseHelp),
            code => live(code),
        },
        Mode::Picker { editing: false } => match key.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
            KeyCode::Enter => Some(Action::Start),
            KeyCode::Tab | KeyCode::Char('t') => Some(Action::FocusTarget),
            _ => None,
        },
        Mode::Picker { editing: true } => match key.code {
            KeyCode::Char(c) => Some(Action::Type(c)),
            KeyCode::Backspace => Some(Action::Erase),
            KeyCode::Enter => Some(Action::Start),
            KeyCode::Tab | KeyCode::Esc => Some(Action::FocusList),
            KeyCode::Up => Some(Action::Up),
            KeyCode::Down => Some(Action::Down),
            _ => None,
        },
    }
}

fn live(code: KeyCode) -> Option<Action> {
    match code {
        KeyCode::Char('q') => Some(Action::Quit),
        KeyCode::Char(' ') => Some(Action::TogglePause),
        // `=` is `+` without shift on most layouts.
        KeyCode::Char('+') | KeyCode::Char('=') => Some(Action::LoadUp),
        KeyCode::Char('-') | KeyCode::Char('_') => Some(Action::LoadDown),
        KeyCode::Char('[') => Some(Action::NarrowWindow),
        KeyCode::Char(']') => Some(Action::WidenWindow),
        KeyCode::Char('p') => Some(Action::CaptureProfile),
        KeyCode::Char('b') => Some(Action::SaveBaseline),
        KeyCode::Char('w') => Some(Action::BackToPicker),
        KeyCode::Char('?') => Some(Action::ToggleHelp),
        KeyCode::Char('c') => Some(Action::ToggleLatency),
        KeyCode::Tab => Some(Action::NextScenario),
        KeyCode::BackTab => Some(Action::PrevScenario),
        KeyCode::Char('j') | KeyCode::Down => Some(Action::ScrollOps(1)),
        KeyCode::Char('k') | KeyCode::Up => Some(Action::ScrollOps(-1)),
        KeyCode::PageDown => Some(Action::ScrollOps(OPS_PAGE)),
        KeyCode::PageUp => Some(Action::ScrollOps(-OPS_PAGE)),
        _ => None,
    }
}

/// Rows PgUp/PgDn move the operations table.
pub const OPS_PAGE: i16 = 5;

/// The keys as the help box and the README list them.
pub const LIVE_KEYS: &[(&str, &str)] = &[
    ("space", "pause / resume"),
    (
        "+ / -",
        "rate (open loop) or in flight (closed loop) ×/÷ 1.25",
    ),
    (
        "tab",
        "next scenario: + / - act on it (shift-tab: previous)",
    ),
    ("j / k", "scroll the operations table (also ↓ ↑, PgDn PgUp)"),
    ("[ / ]", "shrink / grow the chart time window"),
    (
        "c",
        "latency: corrected (from planned start) / service time",
    ),
    ("p", "capture a CPU profile"),
    ("b", "save this run as the baseline when it ends"),
    ("w", "stop this run, back to the workload picker"),
    ("?", "this help"),
    (
        "q, Ctrl-C",
        "stop, write the result file, print the summary",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    const PICKING: Mode = Mode::Picker { editing: false };
    const EDITING: Mode = Mode::Picker { editing: true };

    #[test]
    fn live_keys() {
        let cases = [
            ('q', Action::Quit),
            (' ', Action::TogglePause),
            ('+', Action::LoadUp),
            ('=', Action::LoadUp),
            ('-', Action::LoadDown),
            ('[', Action::NarrowWindow),
            (']', Action::WidenWindow),
            ('p', Action::CaptureProfile),
            ('b', Action::SaveBaseline),
            ('w', Action::BackToPicker),
            ('?', Action::ToggleHelp),
            ('c', Action::ToggleLatency),
            ('j', Action::ScrollOps(1)),
            ('k', Action::ScrollOps(-1)),
        ];
        for (c, want) in cases {
            assert_eq!(action(ch(c), &Mode::Live), Some(want), "key {c:?}");
        }
        assert_eq!(action(ch('x'), &Mode::Live), None);
        assert_eq!(action(key(KeyCode::Enter), &Mode::Live), None);
        assert_eq!(action(key(KeyCode::Esc), &Mode::Live), None);
        let keys = [
            (KeyCode::Tab, Action::NextScenario),
            (KeyCode::BackTab, Action::PrevScenario),
            (KeyCode::Down, Action::ScrollOps(1)),
            (KeyCode::Up, Action::ScrollOps(-1)),
            (KeyCode::PageDown, Action::ScrollOps(OPS_PAGE)),
            (KeyCode::PageUp, Action::ScrollOps(-OPS_PAGE)),
        ];
        for (code, want) in keys {
            assert_eq!(action(key(code), &Mode::Live), Some(want), "{code:?}");
        }
    }

    #[test]
    fn ctrl_c_quits_everywhere_even_while_typing() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [Mode::Live, Mode::Help, PICKING, EDITING] {
            assert_eq!(action(ctrl_c, &mode), Some(Action::Quit), "{mode:?}");
        }
        let ctrl_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(action(ctrl_q, &Mode::Live), None);
    }

    #[test]
    fn releases_are_ignored() {
        let mut release = ch('q');
        release.kind = KeyEventKind::Release;
        assert_eq!(action(release, &Mode::Live), None);
        let mut repeat = ch('+');
        repeat.kind = KeyEventKind::Repeat;
        assert_eq!(action(repeat, &Mode::Live), Some(Action::LoadUp));
    }

    #[test]
    fn help_closes_with_esc_or_question_mark_and_keeps_live_keys() {
        assert_eq!(
            action(key(KeyCode::Esc), &Mode::Help),
            Some(Action::CloseHelp)
        );
        assert_eq!(action(ch('?'), &Mode::Help), Some(Action::CloseHelp));
        assert_eq!(action(ch('q'), &Mode::Help), Some(Action::Quit));
        assert_eq!(action(ch(' '), &Mode::Help), Some(Action::TogglePause));
    }

    #[test]
    fn picker_list_keys() {
        assert_eq!(action(key(KeyCode::Up), &PICKING), Some(Action::Up));
        assert_eq!(action(ch('k'), &PICKING), Some(Action::Up));
        assert_eq!(action(key(KeyCode::Down), &PICKING), Some(Action::Down));
        assert_eq!(action(ch('j'), &PICKING), Some(Action::Down));
        assert_eq!(action(key(KeyCode::Enter), &PICKING), Some(Action::Start));
        assert_eq!(
            action(key(KeyCode::Tab), &PICKING),
            Some(Action::FocusTarget)
        );
        assert_eq!(action(ch('q'), &PICKING), Some(Action::Quit));
        assert_eq!(action(key(KeyCode::Esc), &PICKING), Some(Action::Quit));
        assert_eq!(action(ch(' '), &PICKING), None);
    }

    #[test]
    fn target_field_takes_every_character() {
        for c in ['q', ' ', 'w', ':', '+', '?'] {
            assert_eq!(action(ch(c), &EDITING), Some(Action::Type(c)), "{c:?}");
        }
        assert_eq!(
            action(key(KeyCode::Backspace), &EDITING),
            Some(Action::Erase)
        );
        assert_eq!(action(key(KeyCode::Enter), &EDITING), Some(Action::Start));
        assert_eq!(action(key(KeyCode::Esc), &EDITING), Some(Action::FocusList));
        assert_eq!(action(key(KeyCode::Tab), &EDITING), Some(Action::FocusList));
        // Esc then `j` typed fast arrives as Alt+j: leave the field.
        let esc_j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::ALT);
        assert_eq!(action(esc_j, &EDITING), Some(Action::FocusList));
    }
}
