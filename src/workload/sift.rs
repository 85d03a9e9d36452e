//! Reading a workload file that is valid TOML but does not fit the spec:
//! instead of serde's first complaint, every unknown key and every value of
//! the wrong type is reported with its key (`ops[2].wieght`), and the keys
//! that were fine are kept so that validation can go on and find the rest.
//! Each key is tried alone, beside placeholders for the required ones, so
//! the field lists stay those of the serde types in `spec`.

use super::spec::{OpSpec, StageSpec, ThresholdSpec, WorkloadSpec};
use super::validate::Problems;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use toml::{Table, Value};

/// The spec made of the readable keys of `table`; what was not readable is
/// in `p` (with the items whose required keys are missing marked whole).
pub(super) fn sift(mut table: Table, p: &mut Problems) -> Option<WorkloadSpec> {
    let ops = take_list::<OpSpec>(&mut table, "ops", "method", "ping", p);
    let stages = take_list::<StageSpec>(&mut table, "stages", "duration", "1s", p);
    let thresholds = take_list::<ThresholdSpec>(&mut table, "thresholds", "metric", "p99", p);
    let good = sift_table::<WorkloadSpec>(table, "", ("name", ""), p);
    match WorkloadSpec::deserialize(good) {
        Ok(spec) => Some(WorkloadSpec {
            ops,
            stages,
            thresholds,
            ..spec
        }),
        Err(e) => {
            p.add("(file)", e.message().to_string());
            None
        }
    }
}

/// The readable keys of `table` for a `T` (whose one required key is
/// `required`, filled with a placeholder when missing or unreadable).
fn sift_table<T: DeserializeOwned>(
    table: Table,
    prefix: &str,
    (required, placeholder): (&str, &str),
    p: &mut Problems,
) -> Table {
    let mut good = Table::new();
    for (key, value) in table {
        let mut alone = Table::new();
        alone.insert(required.to_string(), Value::from(placeholder));
        alone.insert(key.clone(), value.clone());
        match T::deserialize(alone) {
            Ok(_) => {
                good.insert(key, value);
            }
            Err(e) => p.unreadable(&format!("{prefix}{key}"), e.message().to_string()),
        }
    }
    if !good.contains_key(required) {
        let key = format!("{prefix}{required}");
        let item = prefix.trim_end_matches('.');
        if !p.is_unreadable(&key) && !p.is_unreadable(item) {
            p.unreadable(&key, format!("missing field `{required}`"));
        }
        // The item is validated no further; the placeholder keeps the
        // indices of the items after it.
        if !item.is_empty() {
            p.mark_unreadable(item);
        }
        good.insert(required.to_string(), Value::from(placeholder));
    }
    good
}

/// Takes an array of tables (`[[ops]]`) out of `table`, each item sifted.
fn take_list<T: DeserializeOwned>(
    table: &mut Table,
    key: &str,
    required: &str,
    placeholder: &str,
    p: &mut Problems,
) -> Vec<T> {
    let Some(value) = table.remove(key) else {
        return Vec::new();
    };
    let Value::Array(items) = value else {
        p.unreadable(key, format!("expected an array of tables ([[{key}]])"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let place = format!("{key}[{i}]");
        let item = match item {
            Value::Table(t) => t,
            other => {
                p.unreadable(
                    &place,
                    format!("expected a table, got {}", other.type_str()),
                );
                Table::new()
            }
        };
        let good = sift_table::<T>(item, &format!("{place}."), (required, placeholder), p);
        match T::deserialize(good) {
            Ok(t) => out.push(t),
            Err(e) => p.unreadable(&place, e.message().to_string()),
        }
    }
    out
}
