//! One tagged value of a summary, as TensorBoard's plugins read it: a
//! scalar (`simple_value`, float32), an image (PNG), a text (the text
//! plugin's string tensor, Markdown) and a plugin's data (the HParams
//! plugin's, on its empty tensor).

use crate::proto::{
    DATA_CLASS_TENSOR, DT_FLOAT, DT_STRING, Dim, Image, Kind, PluginData, SummaryMetadata, TensorProto, TensorShape,
    Value,
};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, RgbImage};

/// A scalar, stored as float32 (as every TensorBoard scalar is).
pub fn scalar(tag: &str, value: f64) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: None,
        kind: Some(Kind::SimpleValue(value as f32)),
    }
}

/// An RGB image, PNG-encoded (fast compression: it is written while the
/// run waits).
pub fn image(tag: &str, image: &RgbImage) -> anyhow::Result<Value> {
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        ExtendedColorType::Rgb8,
    )?;
    Ok(Value {
        tag: tag.to_string(),
        metadata: None,
        kind: Some(Kind::Image(Image {
            height: i32::try_from(image.height())?,
            width: i32::try_from(image.width())?,
            colorspace: 3,
            encoded_image_string: png,
        })),
    })
}

/// A text (Markdown), for the text plugin: a scalar string tensor.
pub fn text(tag: &str, markdown: &str) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: Some(metadata("text", Vec::new())),
        kind: Some(Kind::Tensor(TensorProto {
            dtype: DT_STRING,
            tensor_shape: Some(TensorShape { dim: Vec::new() }),
            float_val: Vec::new(),
            string_val: vec![markdown.as_bytes().to_vec()],
        })),
    }
}

/// A plugin's own data on the empty float tensor TensorBoard's plugins
/// write beside it (the HParams plugin's `NULL_TENSOR`).
pub fn plugin(tag: &str, plugin_name: &str, content: Vec<u8>) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: Some(metadata(plugin_name, content)),
        kind: Some(Kind::Tensor(TensorProto {
            dtype: DT_FLOAT,
            tensor_shape: Some(TensorShape {
                dim: vec![Dim { size: 0 }],
            }),
            float_val: Vec::new(),
            string_val: Vec::new(),
        })),
    }
}

/// A tensor's metadata naming its plugin.
fn metadata(plugin_name: &str, content: Vec<u8>) -> SummaryMetadata {
    SummaryMetadata {
        plugin_data: Some(PluginData {
            plugin_name: plugin_name.to_string(),
            content,
        }),
        data_class: DATA_CLASS_TENSOR,
    }
}

/// A TOML text as Markdown that shows it as it is: a fenced block (TOML's
/// `#` comments and `[tables]` would otherwise read as Markdown). A fence
/// longer than any run of backticks in the text.
pub fn toml_block(toml: &str) -> String {
    let longest = toml.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}toml\n{}\n{fence}", toml.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_png_of_their_size() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let Some(Kind::Image(v)) = image("image/x", &img).unwrap().kind else {
            panic!("an image")
        };
        assert_eq!((v.width, v.height, v.colorspace), (5, 3, 3));
        let back = image::load_from_memory(&v.encoded_image_string).unwrap().to_rgb8();
        assert_eq!(back, img);
    }

    #[test]
    fn toml_stays_in_its_fence() {
        assert_eq!(toml_block("a = 1\n"), "```toml\na = 1\n```");
        assert!(toml_block("s = \"````\"").starts_with("`````toml\n"));
    }
}
