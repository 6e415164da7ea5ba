//! The protobuf messages of an event file, as TensorFlow's `event.proto`,
//! `summary.proto`, `tensor.proto` and `tensor_shape.proto` define them —
//! only the fields stylelab writes, with their numbers. Derived with
//! `prost` (no protoc, no build script); the HParams plugin's messages are
//! in `hparams`.

/// `tensorboard.Event`: one record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The run's step this event belongs to.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event holds.
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `Event.what`: the kinds of event stylelab writes.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// The first event of every file: `brain.Event:2`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Values: scalars, images, tensors.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// The file version TensorBoard's readers expect.
pub const FILE_VERSION: &str = "brain.Event:2";

/// `tensorboard.Summary`: tagged values at one step.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// `tensorboard.Summary.Value`: one tagged value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The series' name, e.g. `loss/total`.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Which plugin reads the value, and its own data.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    /// The value itself.
    #[prost(oneof = "Kind", tags = "2, 4, 8")]
    pub kind: Option<Kind>,
}

/// `Summary.Value.value`: the kinds of value stylelab writes.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    /// A scalar, stored as float32.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// An encoded image.
    #[prost(message, tag = "4")]
    Image(Image),
    /// A tensor (text, the HParams plugin's placeholder).
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
}

/// `tensorboard.Summary.Image`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    /// Height, px.
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Width, px.
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grey, 2 grey and alpha, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The image file's bytes (PNG here).
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// `tensorboard.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin that reads the value.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
    /// `DataClass`: 1 scalar, 2 tensor, 3 blob sequence; 0 unknown.
    #[prost(int32, tag = "4")]
    pub data_class: i32,
}

/// `DataClass.DATA_CLASS_TENSOR`.
pub const DATA_CLASS_TENSOR: i32 = 2;

/// `tensorboard.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// `text`, `hparams`, …
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// The plugin's own serialized message.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// `tensorboard.TensorProto`: only the fields stylelab writes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// `DataType`: [`DT_FLOAT`], [`DT_STRING`].
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// The shape; none for a scalar.
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
    /// float32 values.
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    /// Strings, as bytes.
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
}

/// `DataType.DT_FLOAT`.
pub const DT_FLOAT: i32 = 1;
/// `DataType.DT_STRING`.
pub const DT_STRING: i32 = 7;

/// `tensorboard.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShape {
    /// The dimensions, outermost first.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<Dim>,
}

/// `tensorboard.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dim {
    /// The dimension's size.
    #[prost(int64, tag = "1")]
    pub size: i64,
}
