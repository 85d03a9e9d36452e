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

pub use app::{interactive, FinishedRun, RunPlan};

/// A hook's work: it returns the message the status line shows. It runs on
/// the screen's thread, so it should start long work and return.
pub type Hook = Box<dyn Fn() -> String + Send + Sync>;

/// Features other parts of mcptop plug into the live screen. A missing hook
/// makes its key say that the feature is not built yet.
#[derive(Default)]
pub struct TuiHooks {
    /// `p`: capture a CPU profile.
    pub capture_profile: Option<Hook>,
    /// `b`: save a baseline.
    pub save_baseline: Option<Hook>,
}

impl TuiHooks {
    /// What the status line says after `p`.
    pub fn capture_profile(&self) -> String {
        match &self.capture_profile {
            Some(hook) => hook(),
            None => "profiles: not built yet".into(),
        }
    }

    /// What the status line says after `b`.
    pub fn save_baseline(&self) -> String {
        match &self.save_baseline {
            Some(hook) => hook(),
            None => "baselines: not built yet".into(),
        }
    }
}

#[cfg(test)]
mod hook_tests {
    use super::*;

    #[test]
    fn missing_hooks_say_not_built_and_present_ones_answer() {
        let none = TuiHooks::default();
        assert_eq!(none.capture_profile(), "profiles: not built yet");
        assert_eq!(none.save_baseline(), "baselines: not built yet");
        let some = TuiHooks {
            capture_profile: Some(Box::new(|| "profile: p.svg".into())),
            save_baseline: Some(Box::new(|| "baseline saved".into())),
        };
        assert_eq!(some.capture_profile(), "profile: p.svg");
        assert_eq!(some.save_baseline(), "baseline saved");
    }
}
