//! Single message transforms (SMTs) and their predicates, under Kafka's class names and config
//! keys, one file per transform.
//!
//! ```text
//!  record ─▶ [predicate? ─▶ transform] ─▶ [predicate? ─▶ transform] ─▶ ... ─▶ record or dropped
//! ```

mod cast;
mod drop_headers;
mod extract_field;
mod field_path;
mod filter;
mod flatten;
mod header_from;
mod hoist_field;
mod insert_field;
mod insert_header;
mod mask_field;
mod predicates;
mod regex_router;
mod replace_field;
mod set_schema_metadata;
mod timestamp_converter;
mod timestamp_router;
mod util;
mod value_to_key;

use crate::config::{Config, ConfigError};
use crate::data::DataError;
use crate::record::ConnectRecord;
use util::Side;

/// Changes one record at a time (Kafka's `Transformation`).
pub trait Transformation: Send {
    /// The changed record, or `None` to drop it.
    fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>, DataError>;
}

/// Decides whether a transform applies to a record (Kafka's `Predicate`).
pub trait Predicate: Send + Sync {
    /// Whether the record matches.
    fn test(&self, record: &ConnectRecord) -> bool;
}

/// A transform with its predicate: applied when the predicate's answer differs from `negate`
/// (Kafka's `TransformationStage`).
pub struct Stage {
    transformation: Box<dyn Transformation>,
    class: String,
    predicate: Option<Box<dyn Predicate>>,
    negate: bool,
}

impl Stage {
    /// A stage that always applies its transform.
    pub fn new(transformation: Box<dyn Transformation>) -> Stage {
        Stage {
            transformation,
            class: String::new(),
            predicate: None,
            negate: false,
        }
    }

    /// Names the transform's class (for error reports).
    pub fn with_class(mut self, class: &str) -> Stage {
        self.class = class.to_string();
        self
    }

    /// The transform's class name.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// Applies the transform only to records the predicate matches (`negate`: does not match).
    pub fn with_predicate(mut self, predicate: Box<dyn Predicate>, negate: bool) -> Stage {
        self.predicate = Some(predicate);
        self.negate = negate;
        self
    }

    /// Runs the stage on a record.
    pub fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        match &self.predicate {
            Some(p) if p.test(&record) == self.negate => Ok(Some(record)),
            _ => self.transformation.apply(record),
        }
    }
}

const PACKAGE: &str = "org.apache.kafka.connect.transforms.";

/// The transforms this worker has, by Kafka class name.
pub const TRANSFORMATIONS: &[&str] = &[
    "org.apache.kafka.connect.transforms.Cast$Key",
    "org.apache.kafka.connect.transforms.Cast$Value",
    "org.apache.kafka.connect.transforms.DropHeaders",
    "org.apache.kafka.connect.transforms.ExtractField$Key",
    "org.apache.kafka.connect.transforms.ExtractField$Value",
    "org.apache.kafka.connect.transforms.Filter",
    "org.apache.kafka.connect.transforms.Flatten$Key",
    "org.apache.kafka.connect.transforms.Flatten$Value",
    "org.apache.kafka.connect.transforms.HeaderFrom$Key",
    "org.apache.kafka.connect.transforms.HeaderFrom$Value",
    "org.apache.kafka.connect.transforms.HoistField$Key",
    "org.apache.kafka.connect.transforms.HoistField$Value",
    "org.apache.kafka.connect.transforms.InsertField$Key",
    "org.apache.kafka.connect.transforms.InsertField$Value",
    "org.apache.kafka.connect.transforms.InsertHeader",
    "org.apache.kafka.connect.transforms.MaskField$Key",
    "org.apache.kafka.connect.transforms.MaskField$Value",
    "org.apache.kafka.connect.transforms.RegexRouter",
    "org.apache.kafka.connect.transforms.ReplaceField$Key",
    "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key",
    "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
    "org.apache.kafka.connect.transforms.TimestampConverter$Key",
    "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    "org.apache.kafka.connect.transforms.TimestampRouter",
    "org.apache.kafka.connect.transforms.ValueToKey",
];

/// The predicates this worker has, by Kafka class name.
pub const PREDICATES: &[&str] = &[
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
];

/// The plugin of `list` a class name or its simple name (Kafka's alias) names.
fn resolve(list: &'static [&'static str], name: &str) -> Option<&'static str> {
    let name = name.trim();
    list.iter().copied().find(|class| {
        let simple = class.rsplit('.').next().unwrap_or(class);
        *class == name || simple == name
    })
}

/// Creates the transform `class` (a Kafka class name, or its simple name) with its config.
pub fn transformation(
    class: &str,
    config: &Config,
) -> Result<Box<dyn Transformation>, ConfigError> {
    let full = resolve(TRANSFORMATIONS, class)
        .ok_or_else(|| ConfigError::new(format!("Class {} could not be found.", class.trim())))?;
    let name = full.strip_prefix(PACKAGE).unwrap_or(full);
    let (base, side) = match name.split_once('$') {
        Some((b, "Key")) => (b, Side::Key),
        Some((b, _)) => (b, Side::Value),
        None => (name, Side::Value),
    };
    Ok(match base {
        "Cast" => Box::new(cast::Cast::configure(side, config)?),
        "DropHeaders" => Box::new(drop_headers::DropHeaders::configure(config)?),
        "ExtractField" => Box::new(extract_field::ExtractField::configure(side, config)?),
        "Filter" => Box::new(filter::Filter),
        "Flatten" => Box::new(flatten::Flatten::configure(side, config)?),
        "HeaderFrom" => Box::new(header_from::HeaderFrom::configure(side, config)?),
        "HoistField" => Box::new(hoist_field::HoistField::configure(side, config)?),
        "InsertField" => Box::new(insert_field::InsertField::configure(side, config)?),
        "InsertHeader" => Box::new(insert_header::InsertHeader::configure(config)?),
        "MaskField" => Box::new(mask_field::MaskField::configure(side, config)?),
        "RegexRouter" => Box::new(regex_router::RegexRouter::configure(config)?),
        "ReplaceField" => Box::new(replace_field::ReplaceField::configure(side, config)?),
        "SetSchemaMetadata" => Box::new(set_schema_metadata::SetSchemaMetadata::configure(
            side, config,
        )?),
        "TimestampConverter" => Box::new(timestamp_converter::TimestampConverter::configure(
            side, config,
        )?),
        "TimestampRouter" => Box::new(timestamp_router::TimestampRouter::configure(config)?),
        _ => Box::new(value_to_key::ValueToKey::configure(config)?),
    })
}

/// Creates the predicate `class` (a Kafka class name, or its simple name) with its config.
pub fn predicate(class: &str, config: &Config) -> Result<Box<dyn Predicate>, ConfigError> {
    let full = resolve(PREDICATES, class)
        .ok_or_else(|| ConfigError::new(format!("Class {} could not be found.", class.trim())))?;
    Ok(match full.rsplit('.').next().unwrap_or(full) {
        "HasHeaderKey" => Box::new(predicates::HasHeaderKey::configure(config)?),
        "RecordIsTombstone" => Box::new(predicates::RecordIsTombstone),
        _ => Box::new(predicates::TopicNameMatches::configure(config)?),
    })
}
