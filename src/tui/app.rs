//! The glue: owns the terminal for the whole interactive session, runs the
//! picker and the live screen on a blocking thread of their own (so drawing
//! never delays the load), starts runs through the run service (which
//! writes each result file), and hands the finished runs back for the
//! summary.

use super::input;
use super::state::picker::{PickerModel, PickerOutcome};
use super::state::{Effect, LiveExit, LiveModel, Msg, RunLabel};
use super::term::Screen;
use super::view;
use super::TuiHooks;
use crate::engine::{stop, Control};
use crate::metrics::Snapshot;
use crate::report::output::{OutPath, Saved};
use crate::report::{self, RunReport};
use crate::run::{self, RunRequest, View, ViewStarter};
use crate::workload::TargetSpec;
use crate::workload::{catalog, Overrides, Workload};
use anyhow::{anyhow, Context};
use crossterm::event::{self, Event};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Time between frames: 10 frames a second.
pub const FRAME: Duration = Duration::from_millis(100);

/// A run, ready to start.
pub struct RunPlan {
    pub workload: Workload,
    pub spec: TargetSpec,
    pub out: PathBuf,
}

/// A run that ended on the live screen, with what else became of it (a
/// baseline saved or refused, a result saved elsewhere), for the summary.
pub struct ScreenRun {
    pub run: run::FinishedRun,
    /// Where the result file is (the fallback, if it could not go where asked).
    pub out: PathBuf,
    pub notes: Vec<String>,
}

type SharedScreen = Arc<Mutex<Screen>>;

/// Runs the interactive session: `first` straight away (from `mcptop run`)
/// or the picker first (plain `mcptop`). Returns the finished runs once the
/// user quits, with the terminal restored.
pub async fn interactive(
    first: Option<RunPlan>,
    hooks: TuiHooks,
) -> anyhow::Result<Vec<ScreenRun>> {
    let screen: SharedScreen = Arc::new(Mutex::new(
        Screen::enter().context("cannot set up the terminal")?,
    ));
    // A stop signal now says nothing over the screen, and a second one
    // gives the terminal back before it exits.
    let claim = stop::claim_terminal(restore_terminal);
    let hooks = Arc::new(hooks);
    let result = session(&screen, first, hooks).await;
    drop(claim);
    // Every other handle was on a thread that has ended: this restores the
    // terminal before the caller prints anything.
    drop(screen);
    result
}

fn restore_terminal() {
    let _ = super::term::restore();
}

async fn session(
    screen: &SharedScreen,
    first: Option<RunPlan>,
    hooks: Arc<TuiHooks>,
) -> anyhow::Result<Vec<ScreenRun>> {
    let straight_run = first.is_some();
    let mut next = first;
    let mut picker = PickerModel::new(catalog::list());
    let mut used_picker = false;
    let mut done = Vec::new();
    loop {
        let plan = match next.take() {
            Some(plan) => plan,
            None => {
                used_picker = true;
                let (back, plan) = pick(screen.clone(), picker).await?;
                picker = back;
                match plan {
                    Some(plan) => plan,
                    None => break,
                }
            }
        };
        picker.select(&plan.workload.name);
        match run_one(screen, &plan, hooks.clone()).await {
            Ok((finished, mut model)) => {
                let (out, mut notes) = match &finished.saved {
                    Some(Ok(Saved::Fallback { error, path })) => (
                        path.clone(),
                        vec![format!(
                            "mcptop: error: {error}; the result is saved in {} instead",
                            path.display()
                        )],
                    ),
                    Some(Err(e)) => return Err(anyhow!(e.clone())),
                    _ => (plan.out.clone(), Vec::new()),
                };
                if model.exit.is_none() && stop::process().signal().is_none() {
                    model = hold_final_screen(screen.clone(), model, &out).await?;
                }
                let report = &finished.report;
                notes.extend(model.baseline_asked().then(|| save_baseline(report)));
                picker.message = Some(format!(
                    "last run: {} -> {}: {:.0} req/s, stopped: {}; result {}{}",
                    plan.workload.name,
                    report.environment.target,
                    report.metrics.overall.throughput_msg_per_s,
                    report::text::describe_stop(&report.stopped_by),
                    out.display(),
                    notes.iter().map(|n| format!("; {n}")).collect::<String>()
                ));
                done.push(ScreenRun {
                    run: finished,
                    out,
                    notes,
                });
                let how = model.exit.unwrap_or(LiveExit::RunEnded);
                let back_to_picker = match how {
                    LiveExit::Quit => false,
                    LiveExit::BackToPicker => true,
                    // `mcptop run` ends with its run, as a headless run does;
                    // a session that began at the picker goes back to it.
                    LiveExit::RunEnded => used_picker,
                };
                if !back_to_picker || stop::process().signal().is_some() {
                    break;
                }
            }
            Err(e) if straight_run && !used_picker => return Err(e),
            Err(e) => picker.message = Some(format!("the run failed: {e:#}")),
        }
    }
    Ok(done)
}

/// A run that ended by itself (time up, target gone) keeps its last screen,
/// saying so, until a key (or a stop signal): its figures are not lost to
/// the picker or the shell in the instant it ends.
async fn hold_final_screen(
    screen: SharedScreen,
    mut model: LiveModel,
    out: &std::path::Path,
) -> anyhow::Result<LiveModel> {
    model.update(Msg::Finished(format!(
        "run finished: press any key (result in {})",
        out.display()
    )));
    tokio::task::spawn_blocking(move || {
        loop {
            if stop::process().signal().is_some() {
                break;
            }
            draw(&screen, |f| view::live(f, &model));
            match next_event(FRAME) {
                Some(Event::Key(key)) if key.kind != event::KeyEventKind::Release => break,
                _ => {}
            }
        }
        model
    })
    .await
    .context("the final screen stopped")
}

/// `b` asked for it: the finished run becomes its workload's baseline.
fn save_baseline(report: &RunReport) -> String {
    match crate::check::baseline::save_run(report) {
        Ok(path) => format!(
            "baseline: this run of {} saved in {} (`mcptop check {}` compares against it)",
            report.workload_id,
            path.display(),
            report.workload_id
        ),
        Err(e) => format!("baseline not saved: {e:#}"),
    }
}

/// Runs one plan with the live screen (the result file written); returns
/// the finished run and the screen's final model (how it was left, what was
/// asked of the run).
async fn run_one(
    screen: &SharedScreen,
    plan: &RunPlan,
    hooks: Arc<TuiHooks>,
) -> anyhow::Result<(run::FinishedRun, LiveModel)> {
    let label = RunLabel {
        workload: plan.workload.name.clone(),
        target: plan.spec.describe(),
    };
    let (exit_tx, exit_rx) = oneshot::channel();
    let screen = screen.clone();
    let starter: ViewStarter = Box::new(move |snaps, controls| {
        tokio::task::spawn_blocking(move || {
            let model = live_loop(&screen, snaps, controls, LiveModel::new(label), &hooks);
            let _ = exit_tx.send(model);
        })
    });
    let out = OutPath::File(plan.out.clone());
    let request = RunRequest::new(&plan.workload, &plan.spec).saved_to(&out);
    let finished = run::execute(request, View::Custom(starter)).await?;
    let model = exit_rx
        .await
        .context("the live screen stopped before its run")?;
    Ok((finished, model))
}

fn draw(screen: &Mutex<Screen>, render: impl FnOnce(&mut ratatui::Frame)) {
    let mut screen = screen.lock().unwrap_or_else(PoisonError::into_inner);
    // A terminal that cannot be drawn on (closed, hung up) must not stop the
    // run: it still ends, writes its result and restores what it can.
    let _ = screen.terminal.draw(render);
}

/// The next terminal event, waiting at most `wait`.
fn next_event(wait: Duration) -> Option<Event> {
    match event::poll(wait) {
        Ok(true) => event::read().ok(),
        Ok(false) => None,
        Err(_) => {
            std::thread::sleep(wait);
            None
        }
    }
}

/// The live screen until the run's snapshots end: draws every `FRAME`,
/// turns keys into controls and hook calls, shows what hooks report later.
/// Returns the final model.
fn live_loop(
    screen: &Mutex<Screen>,
    mut snaps: watch::Receiver<Snapshot>,
    controls: mpsc::UnboundedSender<Control>,
    mut model: LiveModel,
    hooks: &TuiHooks,
) -> LiveModel {
    let started = Instant::now();
    let (notify, news) = std::sync::mpsc::channel::<String>();
    model.update(Msg::Snapshot(Box::new(snaps.borrow_and_update().clone())));
    let mut next_frame = started;
    loop {
        let now = Instant::now();
        if now >= next_frame {
            match snaps.has_changed() {
                Ok(true) => {
                    let snapshot = snaps.borrow_and_update().clone();
                    model.update(Msg::Snapshot(Box::new(snapshot)));
                }
                Ok(false) => {}
                Err(_) => break,
            }
            model.update(Msg::Clock(now - started));
            while let Ok(text) = news.try_recv() {
                model.update(Msg::Status(text));
            }
            draw(screen, |f| view::live(f, &model));
            next_frame = (next_frame + FRAME).max(now);
        }
        let Some(event) = next_event(next_frame.saturating_duration_since(Instant::now())) else {
            continue;
        };
        match event {
            Event::Key(key) => {
                let Some(action) = input::action(key, &model.mode()) else {
                    continue;
                };
                let effect = model.update(Msg::Action(action));
                let said = match effect {
                    Some(Effect::Engine(control)) => {
                        let _ = controls.send(control);
                        None
                    }
                    Some(Effect::CaptureProfile) => {
                        Some(hooks.capture_profile(&model.run, notify.clone()))
                    }
                    None => None,
                };
                if let Some(text) = said {
                    model.update(Msg::Status(text));
                }
                next_frame = Instant::now();
            }
            Event::Resize(..) => next_frame = Instant::now(),
            _ => {}
        }
    }
    model
}

/// Shows the picker until a workload and target resolve or the user quits.
async fn pick(
    screen: SharedScreen,
    model: PickerModel,
) -> anyhow::Result<(PickerModel, Option<RunPlan>)> {
    tokio::task::spawn_blocking(move || picker_loop(&screen, model))
        .await
        .context("the picker stopped")
}

fn picker_loop(screen: &Mutex<Screen>, mut model: PickerModel) -> (PickerModel, Option<RunPlan>) {
    loop {
        // A stop signal while the picker is up leaves it.
        if stop::process().signal().is_some() {
            return (model, None);
        }
        draw(screen, |f| view::picker::picker(f, &model));
        let Some(Event::Key(key)) = next_event(FRAME) else {
            continue;
        };
        let Some(action) = input::action(key, &model.mode()) else {
            continue;
        };
        match model.update(action) {
            Some(PickerOutcome::Quit) => return (model, None),
            Some(PickerOutcome::Start { workload, target }) => match resolve(&workload, &target) {
                Ok(plan) => return (model, Some(plan)),
                Err(e) => model.message = Some(format!("{e:#}")),
            },
            None => {}
        }
    }
}

fn resolve(workload: &str, target: &str) -> anyhow::Result<RunPlan> {
    let (workload, spec) = run::resolve(workload, &Overrides::default(), Some(target))?;
    let out = run::default_out(&workload.name);
    Ok(RunPlan {
        workload,
        spec,
        out,
    })
}
