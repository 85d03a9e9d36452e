//! The workload picker's model: the workloads to choose from, the target
//! field, and what `Enter` asks for. Plain data: resolving the choice into a
//! `Workload` and a `TargetSpec` is the glue's job.

use crate::tui::input::{Action, Mode};
use crate::workload::catalog::Entry;

/// The target a fresh picker offers.
pub const DEFAULT_TARGET: &str = "builtin";

#[derive(Debug, Clone)]
pub struct PickerModel {
    pub entries: Vec<Entry>,
    pub selected: usize,
    pub target: String,
    pub editing: bool,
    /// A line for the bottom of the screen: the last run's outcome or why a
    /// choice could not start.
    pub message: Option<String>,
}

/// What a key press in the picker leads to.
#[derive(Debug, Clone, PartialEq)]
pub enum PickerOutcome {
    /// Run this workload (by catalog name) against this target text.
    Start {
        workload: String,
        target: String,
    },
    Quit,
}

impl PickerModel {
    pub fn new(entries: Vec<Entry>) -> PickerModel {
        PickerModel {
            entries,
            selected: 0,
            target: DEFAULT_TARGET.to_string(),
            editing: false,
            message: None,
        }
    }

    pub fn mode(&self) -> Mode {
        Mode::Picker {
            editing: self.editing,
        }
    }

    /// Puts the selection on `name` when it is listed.
    pub fn select(&mut self, name: &str) {
        if let Some(i) = self.entries.iter().position(|e| e.name == name) {
            self.selected = i;
        }
    }

    pub fn update(&mut self, action: Action) -> Option<PickerOutcome> {
        match action {
            Action::Quit => return Some(PickerOutcome::Quit),
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => {
                self.selected = (self.selected + 1).min(self.entries.len().saturating_sub(1))
            }
            Action::FocusTarget => self.editing = true,
            Action::FocusList => self.editing = false,
            Action::Type(c) => self.target.push(c),
            Action::Erase => {
                self.target.pop();
            }
            Action::Start => {
                let Some(entry) = self.entries.get(self.selected) else {
                    self.message = Some("no workloads to run".into());
                    return None;
                };
                let target = self.target.trim();
                // Back from the run, keys go to the list again: `q` quits
                // instead of typing into the target.
                self.editing = false;
                return Some(PickerOutcome::Start {
                    workload: entry.name.clone(),
                    target: if target.is_empty() {
                        DEFAULT_TARGET.to_string()
                    } else {
                        target.to_string()
                    },
                });
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::catalog::Origin;

    fn picker() -> PickerModel {
        PickerModel::new(
            ["cpu", "echo", "mixed"]
                .iter()
                .map(|n| Entry {
                    name: n.to_string(),
                    origin: Origin::Shipped,
                    description: String::new(),
                })
                .collect(),
        )
    }

    #[test]
    fn moves_within_the_list() {
        let mut p = picker();
        p.update(Action::Up);
        assert_eq!(p.selected, 0);
        for _ in 0..5 {
            p.update(Action::Down);
        }
        assert_eq!(p.selected, 2);
        p.select("echo");
        assert_eq!(p.selected, 1);
        p.select("nope");
        assert_eq!(p.selected, 1);
    }

    #[test]
    fn starts_the_selection_with_the_typed_target() {
        let mut p = picker();
        p.update(Action::Down);
        p.update(Action::FocusTarget);
        assert_eq!(p.mode(), Mode::Picker { editing: true });
        for _ in 0.."builtin".len() {
            p.update(Action::Erase);
        }
        for c in "stdio:node s.js".chars() {
            p.update(Action::Type(c));
        }
        assert_eq!(
            p.update(Action::Start),
            Some(PickerOutcome::Start {
                workload: "echo".into(),
                target: "stdio:node s.js".into()
            })
        );
    }

    /// Enter in the target field starts the run; the picker it comes back
    /// to (after `w` or the run's end) has the list focused, so `q` quits.
    #[test]
    fn starting_from_the_target_field_gives_the_focus_back_to_the_list() {
        let mut p = picker();
        p.update(Action::FocusTarget);
        assert!(matches!(
            p.update(Action::Start),
            Some(PickerOutcome::Start { .. })
        ));
        assert_eq!(p.mode(), Mode::Picker { editing: false });
        let q = crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('q'),
            crossterm::event::KeyModifiers::NONE,
        );
        assert_eq!(crate::tui::input::action(q, &p.mode()), Some(Action::Quit));
        assert_eq!(p.target, "builtin");
    }

    #[test]
    fn an_empty_target_means_builtin_and_q_quits() {
        let mut p = picker();
        p.target.clear();
        assert_eq!(
            p.update(Action::Start),
            Some(PickerOutcome::Start {
                workload: "cpu".into(),
                target: "builtin".into()
            })
        );
        assert_eq!(p.update(Action::Quit), Some(PickerOutcome::Quit));
        let mut empty = PickerModel::new(Vec::new());
        assert_eq!(empty.update(Action::Start), None);
        assert!(empty.message.is_some());
    }
}
