//! TensorBoard's HParams plugin: its messages (`plugin_data.proto`,
//! `api.proto`, `google.protobuf.Value`) and what stylelab puts in them —
//! a run's experiment as the session's hyperparameters, how it ended, and a
//! sweep's swept keys and final numbers as the experiment's columns.
//!
//! Values are written as TensorBoard's own summaries write them: plugin
//! `hparams`, content version 0, tags `_hparams_/…`.

use crate::tags;
use std::collections::BTreeMap;
use stylelab_core::config::sweep::SweepSpec;
use stylelab_core::record::Status;

/// The plugin's name in `SummaryMetadata.PluginData`.
pub const PLUGIN_NAME: &str = "hparams";
/// The plugin data's version TensorBoard reads.
pub const PLUGIN_DATA_VERSION: i32 = 0;
/// The tag of a sweep's experiment (its columns).
pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
/// The tag of a run's hyperparameters, written when it starts.
pub const SESSION_START_INFO_TAG: &str = "_hparams_/session_start_info";
/// The tag of how a run ended.
pub const SESSION_END_INFO_TAG: &str = "_hparams_/session_end_info";

/// `tensorboard.hparams.HParamsPluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamsPluginData {
    /// Always [`PLUGIN_DATA_VERSION`].
    #[prost(int32, tag = "1")]
    pub version: i32,
    /// One of the three kinds.
    #[prost(oneof = "Data", tags = "2, 3, 4")]
    pub data: Option<Data>,
}

/// `HParamsPluginData.data`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Data {
    /// The columns of the HParams table.
    #[prost(message, tag = "2")]
    Experiment(Experiment),
    /// A run's hyperparameters.
    #[prost(message, tag = "3")]
    SessionStartInfo(SessionStartInfo),
    /// How a run ended.
    #[prost(message, tag = "4")]
    SessionEndInfo(SessionEndInfo),
}

/// `tensorboard.hparams.Experiment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Experiment {
    /// A description, shown by TensorBoard.
    #[prost(string, tag = "1")]
    pub description: String,
    /// Seconds since the epoch.
    #[prost(double, tag = "3")]
    pub time_created_secs: f64,
    /// The hyperparameter columns.
    #[prost(message, repeated, tag = "4")]
    pub hparam_infos: Vec<HParamInfo>,
    /// The metric columns.
    #[prost(message, repeated, tag = "5")]
    pub metric_infos: Vec<MetricInfo>,
    /// The experiment's name.
    #[prost(string, tag = "6")]
    pub name: String,
}

/// `tensorboard.hparams.HParamInfo`: one hyperparameter column.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamInfo {
    /// The key, e.g. `loss.style_weight`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// [`DataType`].
    #[prost(enumeration = "DataType", tag = "4")]
    pub r#type: i32,
    /// The values it takes, when known.
    #[prost(oneof = "Domain", tags = "5, 6")]
    pub domain: Option<Domain>,
    /// Whether the values differ between sessions.
    #[prost(bool, tag = "7")]
    pub differs: bool,
}

/// `HParamInfo.domain`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Domain {
    /// Every value it takes.
    #[prost(message, tag = "5")]
    Discrete(ListValue),
    /// The range of a number.
    #[prost(message, tag = "6")]
    Interval(Interval),
}

/// `tensorboard.hparams.Interval`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Interval {
    /// The smallest value.
    #[prost(double, tag = "1")]
    pub min_value: f64,
    /// The largest value.
    #[prost(double, tag = "2")]
    pub max_value: f64,
}

/// `tensorboard.hparams.MetricInfo`: one metric column.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricInfo {
    /// The scalar series it reads.
    #[prost(message, optional, tag = "1")]
    pub name: Option<MetricName>,
}

/// `tensorboard.hparams.MetricName`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricName {
    /// The sub-folder of the session's run ("" for the run itself).
    #[prost(string, tag = "1")]
    pub group: String,
    /// The scalar's tag.
    #[prost(string, tag = "2")]
    pub tag: String,
}

/// `tensorboard.hparams.SessionStartInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStartInfo {
    /// The run's hyperparameters, by key.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, AnyValue>,
    /// Sessions of one group are aggregated; "" for each its own.
    #[prost(string, tag = "4")]
    pub group_name: String,
    /// Seconds since the epoch.
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

/// `tensorboard.hparams.SessionEndInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionEndInfo {
    /// [`SessionStatus`].
    #[prost(enumeration = "SessionStatus", tag = "1")]
    pub status: i32,
    /// Seconds since the epoch.
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

/// `tensorboard.hparams.Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SessionStatus {
    /// Neither success nor failure: a run stopped on request.
    Unknown = 0,
    /// A completed run.
    Success = 1,
    /// A failed or stalled run.
    Failure = 2,
    /// Still running.
    Running = 3,
}

/// `tensorboard.hparams.DataType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    /// Not known.
    Unset = 0,
    /// Text.
    String = 1,
    /// true or false.
    Bool = 2,
    /// A number.
    Float64 = 3,
}

/// `google.protobuf.Value`: the kinds an hyperparameter takes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    /// The value.
    #[prost(oneof = "Kind", tags = "2, 3, 4, 6")]
    pub kind: Option<Kind>,
}

/// `google.protobuf.Value.kind`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    /// A number (finite).
    #[prost(double, tag = "2")]
    Number(f64),
    /// Text.
    #[prost(string, tag = "3")]
    Text(String),
    /// true or false.
    #[prost(bool, tag = "4")]
    Bool(bool),
    /// A list.
    #[prost(message, tag = "6")]
    List(ListValue),
}

/// `google.protobuf.ListValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListValue {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<AnyValue>,
}

/// An experiment file's value as an hyperparameter: numbers as numbers
/// (a non-finite one as its text, which JSON cannot hold as a number),
/// booleans as booleans, strings as themselves, lists and dates as their
/// TOML text. None for a table (its entries are keys of their own).
pub fn hparam_value(v: &toml::Value) -> Option<AnyValue> {
    let number = |x: f64| {
        if x.is_finite() {
            Kind::Number(x)
        } else {
            Kind::Text(x.to_string())
        }
    };
    let kind = match v {
        toml::Value::Integer(i) => number(*i as f64),
        toml::Value::Float(x) => number(*x),
        toml::Value::Boolean(b) => Kind::Bool(*b),
        toml::Value::String(s) => Kind::Text(s.clone()),
        toml::Value::Array(_) | toml::Value::Datetime(_) => Kind::Text(v.to_string()),
        toml::Value::Table(_) => return None,
    };
    Some(AnyValue { kind: Some(kind) })
}

/// A run's hyperparameters: every key of its resolved experiment (TOML
/// text) but those that say where it wrote rather than what it computed
/// (`name`, `output.*`: the keys `stylelab compare` leaves out). Text
/// that is not TOML gives none.
pub fn run_hparams(experiment_toml: &str) -> BTreeMap<String, AnyValue> {
    let Ok(table) = toml::from_str::<toml::Table>(experiment_toml) else {
        return BTreeMap::new();
    };
    stylelab_core::config::dotted_keys(&table)
        .into_iter()
        .filter(|(k, _)| !stylelab_core::review::is_noise_key(k))
        .filter_map(|(k, v)| Some((k, hparam_value(&v)?)))
        .collect()
}

/// The session-start data of a run.
pub fn session_start(experiment_toml: &str, start_time_secs: f64) -> HParamsPluginData {
    plugin_data(Data::SessionStartInfo(SessionStartInfo {
        hparams: run_hparams(experiment_toml),
        group_name: String::new(),
        start_time_secs,
    }))
}

/// The session-end data of a run that ended with `status`. TensorBoard has
/// no "stopped": a stopped run's session is `STATUS_UNKNOWN` (its
/// `run/outcome` text says it was stopped).
pub fn session_end(status: Status, end_time_secs: f64) -> HParamsPluginData {
    let status = match status {
        Status::Completed | Status::Converged => SessionStatus::Success,
        Status::Failed | Status::Stalled => SessionStatus::Failure,
        Status::Running => SessionStatus::Running,
        Status::Stopped => SessionStatus::Unknown,
    };
    plugin_data(Data::SessionEndInfo(SessionEndInfo {
        status: status as i32,
        end_time_secs,
    }))
}

/// A sweep's experiment: one hyperparameter column per swept key (a table
/// swept whole gives a column per entry, as its runs' experiments hold
/// them), and the final losses and scores as metric columns.
pub fn sweep_experiment(name: &str, spec: &SweepSpec, time_created_secs: f64) -> HParamsPluginData {
    let mut columns: Vec<(String, Vec<AnyValue>)> = Vec::new();
    for point in &spec.points {
        for (key, value) in &point.values {
            let leaves = match value {
                toml::Value::Table(t) => stylelab_core::config::dotted_keys(t)
                    .into_iter()
                    .map(|(k, v)| (format!("{key}.{k}"), v))
                    .collect(),
                other => vec![(key.clone(), other.clone())],
            };
            for (leaf, v) in leaves {
                let Some(v) = hparam_value(&v) else { continue };
                match columns.iter_mut().find(|(k, _)| *k == leaf) {
                    Some((_, values)) => values.push(v),
                    None => columns.push((leaf, vec![v])),
                }
            }
        }
    }
    let metric = |tag: &str| MetricInfo {
        name: Some(MetricName {
            group: String::new(),
            tag: tag.to_string(),
        }),
    };
    plugin_data(Data::Experiment(Experiment {
        description: format!("stylelab sweep {name}: {} points", spec.points.len()),
        time_created_secs,
        hparam_infos: columns.into_iter().map(|(k, values)| column(k, &values)).collect(),
        metric_infos: tags::FINAL
            .iter()
            .chain(tags::SCORES.iter())
            .map(|t| metric(t))
            .collect(),
        name: name.to_string(),
    }))
}

/// A column's type and domain from the values it takes: numbers as an
/// interval, booleans as both values, anything else text without a domain
/// (its runs may hold it resolved: a path made absolute).
fn column(name: String, values: &[AnyValue]) -> HParamInfo {
    let numbers: Vec<f64> = values
        .iter()
        .filter_map(|v| match v.kind {
            Some(Kind::Number(x)) => Some(x),
            _ => None,
        })
        .collect();
    let bools = values.iter().all(|v| matches!(v.kind, Some(Kind::Bool(_))));
    let mut distinct: Vec<&AnyValue> = Vec::new();
    for v in values {
        if !distinct.contains(&v) {
            distinct.push(v);
        }
    }
    let (r#type, domain) = if numbers.len() == values.len() {
        let min = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let max = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (
            DataType::Float64,
            Some(Domain::Interval(Interval {
                min_value: min,
                max_value: max,
            })),
        )
    } else if bools {
        let both = [false, true].map(|b| AnyValue {
            kind: Some(Kind::Bool(b)),
        });
        (
            DataType::Bool,
            Some(Domain::Discrete(ListValue { values: both.to_vec() })),
        )
    } else {
        (DataType::String, None)
    };
    HParamInfo {
        name,
        r#type: r#type as i32,
        domain,
        differs: distinct.len() > 1,
    }
}

/// Wrapped with the version TensorBoard reads.
fn plugin_data(data: Data) -> HParamsPluginData {
    HParamsPluginData {
        version: PLUGIN_DATA_VERSION,
        data: Some(data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_runs_keys_become_typed_hparams_without_the_noise_keys() {
        let toml = r#"
name = "x"
[images]
content = "/a.png"
size = [64, 96]
[loss]
style_weight = 100.0
[optim]
iterations = 8
[output]
score = false
"#;
        let h = run_hparams(toml);
        let kind = |k: &str| h[k].kind.clone();
        assert_eq!(kind("loss.style_weight"), Some(Kind::Number(100.0)));
        assert_eq!(kind("optim.iterations"), Some(Kind::Number(8.0)));
        assert_eq!(kind("images.content"), Some(Kind::Text("/a.png".into())));
        assert_eq!(kind("images.size"), Some(Kind::Text("[64, 96]".into())));
        assert!(!h.contains_key("name") && !h.contains_key("output.score"));
        // The message reads back.
        let data = session_start(toml, 5.0);
        let back = HParamsPluginData::decode(data.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn a_sweeps_columns_are_its_swept_keys() {
        let table: toml::Table = toml::from_str(
            r#"
"loss.style_weight" = [10, 1000.0]
"loss.style_layers" = [{ relu1_1 = 1.0 }, { relu2_1 = 0.5 }]
"#,
        )
        .unwrap();
        let spec = SweepSpec::expand(&table).unwrap();
        let Some(Data::Experiment(e)) = sweep_experiment("s", &spec, 0.0).data else {
            panic!("an experiment")
        };
        let names: Vec<&str> = e.hparam_infos.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "loss.style_layers.relu1_1",
                "loss.style_weight",
                "loss.style_layers.relu2_1"
            ]
        );
        let weight = &e.hparam_infos[1];
        assert_eq!(weight.r#type, DataType::Float64 as i32);
        assert_eq!(
            weight.domain,
            Some(Domain::Interval(Interval {
                min_value: 10.0,
                max_value: 1000.0
            }))
        );
        assert!(weight.differs);
        assert_eq!(e.metric_infos.len(), tags::FINAL.len() + tags::SCORES.len());
    }
}
