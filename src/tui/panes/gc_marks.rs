//! The target's GC pauses as marks on the latency chart: one mark per
//! interval that had a pause, at the interval's time and the height of its
//! longest pause (on the chart's log-scale latency axis), so a latency spike
//! sits next to the pause that caused it. Only measured intervals of the
//! target's own GC report (`Snapshot::target_gc`); nothing when none.

use crate::tui::state::LiveModel;
use ratatui::style::Color;

/// The marks' colour, apart from the percentile lines'.
pub const COLOR: Color = Color::Cyan;

/// `(t_s, log10(longest pause in µs))` for each interval from `from_s` on
/// that had a pause.
pub fn marks(m: &LiveModel, from_s: f64) -> Vec<(f64, f64)> {
    let Some(figures) = m
        .snapshot
        .target_gc
        .as_ref()
        .and_then(|g| g.figures.as_ref())
    else {
        return Vec::new();
    };
    figures
        .intervals
        .iter()
        .filter(|i| i.t_s >= from_s && i.pauses > 0)
        .map(|i| (i.t_s, i.pause_max_us.max(1.0).log10()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::gc::{GcFigures, GcInterval, TargetGc};
    use crate::metrics::Snapshot;
    use crate::tui::state::{LiveModel, Msg, RunLabel};

    #[test]
    fn one_mark_per_interval_with_a_pause_at_its_longest() {
        let interval = |t_s: f64, pauses: u64, max_us: f64| GcInterval {
            t_s,
            pauses,
            pause_max_us: max_us,
            ..GcInterval::default()
        };
        let snap = Snapshot {
            target_gc: Some(TargetGc {
                reported: true,
                figures: Some(GcFigures {
                    intervals: vec![
                        interval(1.0, 2, 1000.0),
                        interval(2.0, 0, 0.0),
                        interval(3.0, 1, 10_000.0),
                    ],
                    ..GcFigures::default()
                }),
                ..TargetGc::default()
            }),
            ..Snapshot::default()
        };
        let mut m = LiveModel::new(RunLabel {
            workload: "w".into(),
            target: "t".into(),
        });
        m.update(Msg::Snapshot(Box::new(snap)));
        assert_eq!(marks(&m, 0.0), vec![(1.0, 3.0), (3.0, 4.0)]);
        assert_eq!(marks(&m, 2.5), vec![(3.0, 4.0)]);
        m.update(Msg::Snapshot(Box::default()));
        assert!(marks(&m, 0.0).is_empty());
    }
}
