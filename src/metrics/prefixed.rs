//! `Percentiles` written flat under a key prefix (`latency_p50_us`,
//! `service_p99_us`, ...), so an operation's figures hold one `Percentiles`
//! each while the result file keeps the flat keys it has always had. The
//! minimum is not written (the result file never stored it per operation);
//! read back, it is 0.

use super::snapshot::Percentiles;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use std::fmt;

/// Writes `p` as seven `{prefix}{field}` entries into the enclosing map.
fn write<S: Serializer>(prefix: &str, p: &Percentiles, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(7))?;
    let key = |field: &str| format!("{prefix}{field}");
    m.serialize_entry(&key("p50_us"), &p.p50_us)?;
    m.serialize_entry(&key("p90_us"), &p.p90_us)?;
    m.serialize_entry(&key("p95_us"), &p.p95_us)?;
    m.serialize_entry(&key("p99_us"), &p.p99_us)?;
    m.serialize_entry(&key("p999_us"), &p.p999_us)?;
    m.serialize_entry(&key("max_us"), &p.max_us)?;
    m.serialize_entry(&key("mean_us"), &p.mean_us)?;
    m.end()
}

struct Reader(&'static str);

impl<'de> Visitor<'de> for Reader {
    type Value = Percentiles;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}p50_us ... {}mean_us", self.0, self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Percentiles, A::Error> {
        let mut p = Percentiles::default();
        let mut seen = 0u8;
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) = key.strip_prefix(self.0) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let slot = match field {
                "p50_us" => &mut p.p50_us,
                "p90_us" => &mut p.p90_us,
                "p95_us" => &mut p.p95_us,
                "p99_us" => &mut p.p99_us,
                "p999_us" => &mut p.p999_us,
                "max_us" => &mut p.max_us,
                "mean_us" => {
                    p.mean_us = map.next_value()?;
                    seen += 1;
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value()?;
            seen += 1;
        }
        if seen < 7 {
            return Err(serde::de::Error::custom(format_args!(
                "missing some of {}p50_us ... {}mean_us",
                self.0, self.0
            )));
        }
        Ok(p)
    }
}

fn read<'de, D: Deserializer<'de>>(prefix: &'static str, d: D) -> Result<Percentiles, D::Error> {
    d.deserialize_map(Reader(prefix))
}

/// `#[serde(flatten, with = "latency")]`: corrected latency figures.
pub mod latency {
    use super::*;
    pub fn serialize<S: Serializer>(p: &Percentiles, s: S) -> Result<S::Ok, S::Error> {
        write("latency_", p, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Percentiles, D::Error> {
        read("latency_", d)
    }
}

/// `#[serde(flatten, with = "service")]`: service-time figures.
pub mod service {
    use super::*;
    pub fn serialize<S: Serializer>(p: &Percentiles, s: S) -> Result<S::Ok, S::Error> {
        write("service_", p, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Percentiles, D::Error> {
        read("service_", d)
    }
}

#[cfg(test)]
mod tests {
    use super::Percentiles;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Op {
        label: String,
        #[serde(flatten, with = "super::latency")]
        corrected: Percentiles,
        #[serde(flatten, with = "super::service")]
        service: Percentiles,
    }

    fn figures(base: u64) -> Percentiles {
        Percentiles {
            p50_us: base,
            p90_us: base + 1,
            p95_us: base + 2,
            p99_us: base + 3,
            p999_us: base + 4,
            max_us: base + 5,
            min_us: 0,
            mean_us: base as f64 + 0.5,
        }
    }

    #[test]
    fn figures_are_written_flat_under_their_prefix_and_read_back() {
        let op = Op {
            label: "ping".into(),
            corrected: figures(100),
            service: figures(10),
        };
        let json = serde_json::to_value(&op).expect("serialise");
        let keys: Vec<&str> = json
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 15, "{keys:?}");
        assert_eq!(json["latency_p99_us"], 103);
        assert_eq!(json["service_max_us"], 15);
        assert_eq!(json["latency_mean_us"], 100.5);
        assert!(json.get("latency_min_us").is_none());
        let back: Op = serde_json::from_value(json).expect("read back");
        assert_eq!(back, op);
    }

    #[test]
    fn a_missing_figure_is_an_error_naming_the_prefix() {
        let json = serde_json::json!({"label": "x", "latency_p50_us": 1});
        let err = serde_json::from_value::<Op>(json).expect_err("incomplete");
        assert!(err.to_string().contains("latency_"), "{err}");
    }
}
