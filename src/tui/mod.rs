//! The interactive screen: a workload picker and a live view of a run. It
//! reads only `Snapshot`s and talks back only through `Control`s; the run
//! itself, the result file and the summary stay the runner's.
//!
//! `state` holds the models (plain data, unit tested), `input` maps keys to
//! actions, `panes` and `view` draw, `term` owns the terminal, and `app` is
//! the glue that runs it all on its own thread at a fixed frame rate.

pub mod app;
pub mod input;
pub mod panes;
pub mod state;
pub mod term;
pub mod view;

#[cfg(test)]
mod tests;

pub use app::{interactive, RunPlan, ScreenRun};
pub use state::RunLabel;

/// Where a hook's later news goes: each message shows on the status line of
/// the live screen that is up when it arrives.
pub type Notify = std::sync::mpsc::Sender<String>;

/// A hook's work: it returns the message the status line shows at once. It
/// runs on the screen's thread, so it should start long work elsewhere and
/// report how it ended through the `Notify` it is given. It is told which
/// run is on screen.
pub type Hook = Box<dyn Fn(&RunLabel, Notify) -> String + Send + Sync>;

/// Features other parts of mcptop plug into the live screen. A missing hook
/// makes its key say that the feature is not built.
#[derive(Default)]
pub struct TuiHooks {
    /// `p`: capture a CPU profile.
    pub capture_profile: Option<Hook>,
}

impl TuiHooks {
    /// What the status line says after `p`.
    pub fn capture_profile(&self, run: &RunLabel, notify: Notify) -> String {
        match &self.capture_profile {
            Some(hook) => hook(run, notify),
            None => "profiles: not available in this build".into(),
        }
    }
}

#[cfg(test)]
mod hook_tests {
    use super::*;

    #[test]
    fn a_missing_hook_says_so_and_a_present_one_answers_now_and_later() {
        let (tx, rx) = std::sync::mpsc::channel();
        let run = RunLabel {
            workload: "echo".into(),
            target: "builtin".into(),
        };
        let none = TuiHooks::default();
        assert_eq!(
            none.capture_profile(&run, tx.clone()),
            "profiles: not available in this build"
        );
        let some = TuiHooks {
            capture_profile: Some(Box::new(|run: &RunLabel, notify: Notify| {
                let _ = notify.send("profile written".into());
                format!("profiling {}", run.workload)
            })),
        };
        assert_eq!(some.capture_profile(&run, tx), "profiling echo");
        assert_eq!(rx.try_recv().as_deref(), Ok("profile written"));
    }
}
