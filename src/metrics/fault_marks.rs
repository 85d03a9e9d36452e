//! The faults fired so far, as the live screen marks them on its charts:
//! each one's label and the time it fired on the chart's x axis (since
//! measuring began, pauses included, as the intervals). The faults' task adds a mark when one fires; each snapshot
//! carries the list.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultMark {
    /// `kill@5s`.
    pub label: String,
    /// When it fired, in seconds since measuring began with pauses
    /// included: the clock of the intervals' `t_s` that the charts draw
    /// (the label has the workload's `at`, measured time).
    pub t_s: f64,
}

/// Shared by the faults' task (which adds) and the recorder (which reads).
#[derive(Debug, Clone, Default)]
pub struct FaultMarks(Arc<Mutex<Vec<FaultMark>>>);

impl FaultMarks {
    pub fn push(&self, mark: FaultMark) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mark);
    }

    pub fn list(&self) -> Vec<FaultMark> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
