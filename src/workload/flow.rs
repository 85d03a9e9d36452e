//! `[[scenarios.flow]]`: steps that run in order, one iteration on one
//! session. Each step is an operation of its own (labelled `scenario/step`),
//! and the iteration as a whole is one more, `scenario/iteration`, timed
//! from the iteration's planned start. A step may take its tool, resource
//! or prompt from an earlier step's result by JSON pointer; validation
//! checks that the step named exists, comes earlier, and that the pointer
//! reaches into what a result keeps (`/tools`, `/resources`, `/prompts`,
//! `/resourceTemplates`: the listings' `name`, `uri` and `uriTemplate`).

use super::fields::parse_op;
use super::spec::{FlowStepSpec, FromSpec, OpSpec};
use super::validate::Problems;
use super::{Method, Operation};
use std::time::Duration;

/// The listing fields a step's result keeps for later steps.
pub const KEPT: [&str; 4] = ["tools", "resources", "prompts", "resourceTemplates"];

/// Stands in for a name a step takes from an earlier one, until it runs.
pub const TAKEN: &str = "<from an earlier step>";

/// A scenario's flow: its steps and the operation that times an iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub steps: Vec<FlowStep>,
    /// The workload op (index) that records each iteration as a whole; it is
    /// never sent.
    pub iteration: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowStep {
    /// Its operation: an index into the workload's `ops`.
    pub op: usize,
    pub continue_on_error: bool,
    pub from: Option<Take>,
}

/// Where a step's tool, uri or prompt comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Take {
    /// An earlier step (its index in the flow).
    pub step: usize,
    pub pointer: String,
    /// Nothing at the pointer skips the step instead of failing it.
    pub skip_if_missing: bool,
}

/// Reads the flow of the scenario `name` (at `at`), appending one operation
/// per step and then the iteration's to `ops`.
pub(super) fn flow(
    name: &str,
    steps: &[FlowStepSpec],
    at: &str,
    default_timeout: Duration,
    ops: &mut Vec<Operation>,
    p: &mut Problems,
) -> Option<Flow> {
    let mut out = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut ok = true;
    for (j, s) in steps.iter().enumerate() {
        let key = format!("{at}.flow[{j}]");
        let from = s.from.as_ref().and_then(|f| take(f, &labels, &key, p));
        if s.from.is_some() && from.is_none() {
            ok = false;
        }
        match step_op(s, default_timeout) {
            Ok(op) => {
                let label = op.label.clone();
                if labels.contains(&label) {
                    p.add(
                        &format!("{key}.name"),
                        format!("a second step labelled {label:?}: give it a `name`"),
                    );
                    ok = false;
                }
                labels.push(label);
                out.push(FlowStep {
                    op: ops.len(),
                    continue_on_error: s.continue_on_error.unwrap_or(false),
                    from,
                });
                ops.push(Operation {
                    label: format!("{name}/{}", op.label),
                    ..op
                });
            }
            Err(problems) => {
                ok = false;
                labels.push(s.name.clone().unwrap_or_default());
                for (k, m) in problems {
                    p.add(&format!("{key}.{k}"), m);
                }
            }
        }
    }
    let iteration = ops.len();
    ops.push(Operation {
        label: format!("{name}/iteration"),
        // Never drawn by a mix nor sent: it only records iterations.
        weight: 1,
        method: Method::Ping,
        timeout: default_timeout,
        fallback: None,
        resume: None,
    });
    ok.then_some(Flow {
        steps: out,
        iteration,
    })
}

/// Where a step takes its name from, if `f` names an earlier step (among
/// `labels`) and a pointer into what results keep.
fn take(f: &FromSpec, labels: &[String], key: &str, p: &mut Problems) -> Option<Take> {
    let step = labels.iter().position(|l| *l == f.step);
    if step.is_none() {
        p.add(
            &format!("{key}.from.step"),
            format!(
                "no earlier step named {:?} (earlier steps: {labels:?})",
                f.step
            ),
        );
    }
    let first = f.pointer.split('/').nth(1).unwrap_or_default();
    if !f.pointer.starts_with('/') || !KEPT.contains(&first) {
        p.add(
            &format!("{key}.from.pointer"),
            format!(
                "expected a JSON pointer into {}, e.g. \"/tools/0/name\", got {:?}",
                KEPT.map(|k| format!("/{k}")).join(", "),
                f.pointer
            ),
        );
        return None;
    }
    let skip_if_missing = match f.if_missing.as_deref() {
        None | Some("fail") => false,
        Some("skip") => true,
        Some(other) => {
            p.add(
                &format!("{key}.from.if_missing"),
                format!("expected \"fail\" or \"skip\", got {other:?}"),
            );
            return None;
        }
    };
    step.map(|step| Take {
        step,
        pointer: f.pointer.clone(),
        skip_if_missing,
    })
}

/// A step's operation. With `from`, the name it takes is not known yet: a
/// placeholder stands in, and the label defaults to the method.
fn step_op(
    s: &FlowStepSpec,
    default_timeout: Duration,
) -> Result<Operation, Vec<(&'static str, String)>> {
    let taken = |given: &Option<String>, method: &str| match (&s.from, given) {
        (Some(_), None) if s.method == method => Some(TAKEN.to_string()),
        _ => given.clone(),
    };
    let spec = OpSpec {
        method: s.method.clone(),
        weight: None,
        name: s.name.clone(),
        tool: taken(&s.tool, "tools/call"),
        uri: taken(&s.uri, "resources/read"),
        prompt: taken(&s.prompt, "prompts/get"),
        arguments: s.arguments.clone(),
        timeout: s.timeout.clone(),
        fallback: s.fallback.clone(),
        resume_after: None,
        resume_delay: None,
    };
    let takes = matches!(
        s.method.as_str(),
        "tools/call" | "resources/read" | "prompts/get"
    );
    let named = match s.method.as_str() {
        "tools/call" => s.tool.is_some(),
        "resources/read" => s.uri.is_some(),
        _ => s.prompt.is_some(),
    };
    if s.from.is_some() && named {
        return Err(vec![(
            "from",
            "names what the step also names itself: keep one of the two".into(),
        )]);
    }
    if s.from.is_some() && !takes {
        return Err(vec![(
            "from",
            format!(
                "method {:?} takes no tool, uri or prompt to fill in",
                s.method
            ),
        )]);
    }
    let mut op = parse_op(&spec, default_timeout)?;
    if s.from.is_some() && s.name.is_none() {
        op.label = op.method.wire_name().to_string();
    }
    Ok(op)
}

#[cfg(test)]
mod tests {
    use crate::workload::Workload;

    fn with_steps(steps: &str) -> String {
        format!(
            "name = \"w\"\nduration = \"5s\"\n\
             [[scenarios]]\nname = \"f\"\nrate = 5\n{steps}"
        )
    }

    #[test]
    fn a_flow_reads_into_steps_and_an_iteration_op() {
        let text = with_steps(
            "[[scenarios.flow]]\nmethod = \"tools/list\"\nname = \"list\"\n\
             [[scenarios.flow]]\nmethod = \"tools/call\"\ncontinue_on_error = true\n\
             from = { step = \"list\", pointer = \"/tools/0/name\" }\n",
        );
        let w = Workload::parse(&text, "f.toml").expect("valid");
        let labels: Vec<&str> = w.ops.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["f/list", "f/tools/call", "f/iteration"]);
        let s = &w.scenarios[0];
        assert_eq!(s.ops, 0..2);
        let flow = s.flow.as_ref().expect("a flow");
        assert_eq!(flow.iteration, 2);
        assert!(flow.steps[1].continue_on_error);
        let take = flow.steps[1].from.as_ref().expect("takes");
        assert_eq!((take.step, take.pointer.as_str()), (0, "/tools/0/name"));
        assert_eq!(w.iterations(), [2]);
    }

    #[test]
    fn validate_names_a_pointer_into_a_step_that_does_not_exist() {
        let text = with_steps(
            "[[scenarios.flow]]\nmethod = \"tools/call\"\n\
             from = { step = \"later\", pointer = \"/tools/0/name\" }\n\
             [[scenarios.flow]]\nmethod = \"tools/list\"\nname = \"later\"\n\
             [[scenarios.flow]]\nmethod = \"resources/read\"\n\
             from = { step = \"later\", pointer = \"/content/0/text\" }\n\
             [[scenarios.flow]]\nmethod = \"ping\"\n\
             from = { step = \"later\", pointer = \"/tools/0/name\" }\n\
             [[scenarios.flow]]\nmethod = \"prompts/get\"\nprompt = \"p\"\n\
             from = { step = \"later\", pointer = \"/prompts/0/name\" }\n",
        );
        let errors =
            Workload::parse_all(&text, "bad.toml", &Default::default()).expect_err("invalid");
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "scenarios[0].flow[0].from.step",
                "scenarios[0].flow[2].from.pointer",
                "scenarios[0].flow[3].from",
                "scenarios[0].flow[4].from",
            ],
            "{errors:?}"
        );
        assert!(errors[0]
            .message
            .contains("no earlier step named \"later\""));
        assert!(errors.iter().all(|e| e.source_name == "bad.toml"));
    }

    #[test]
    fn if_missing_is_fail_or_skip() {
        let step = |m: &str| {
            with_steps(&format!(
                "[[scenarios.flow]]\nmethod = \"tools/list\"\nname = \"l\"\n\
                 [[scenarios.flow]]\nmethod = \"tools/call\"\n\
                 from = {{ step = \"l\", pointer = \"/tools/0/name\", if_missing = \"{m}\" }}\n"
            ))
        };
        let w = Workload::parse(&step("skip"), "f.toml").expect("valid");
        let flow = w.scenarios[0].flow.as_ref().expect("flow");
        assert!(flow.steps[1]
            .from
            .as_ref()
            .is_some_and(|t| t.skip_if_missing));
        let e = Workload::parse(&step("ignore"), "f.toml").expect_err("invalid");
        assert_eq!(e.key, "scenarios[0].flow[1].from.if_missing");
    }

    #[test]
    fn a_scenario_has_ops_or_a_flow_not_both() {
        let text = with_steps(
            "[[scenarios.ops]]\nmethod = \"ping\"\n[[scenarios.flow]]\nmethod = \"ping\"\n",
        );
        let e = Workload::parse(&text, "f.toml").expect_err("both");
        assert_eq!(e.key, "scenarios[0].ops");
    }
}
