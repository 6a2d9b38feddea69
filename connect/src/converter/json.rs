//! `org.apache.kafka.connect.json.JsonConverter`: Connect data as JSON, with the schema in an
//! envelope (`{"schema":...,"payload":...}`, `schemas.enable=true`, the default) or without;
//! byte-identical to Kafka's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::logical::{self, Logical};
use crate::data::{java, DataError, Schema, SchemaAndValue, SchemaBuilder, Struct, Type, Value};
use crate::json::{self, Node};

use super::Converter;

/// How `Decimal` values are written (`decimal.format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalFormat {
    /// The unscaled bytes in base64 (the default).
    Base64,
    /// A JSON number.
    Numeric,
}

/// Kafka's JsonConverter.
#[derive(Clone, Debug)]
pub struct JsonConverter {
    schemas_enabled: bool,
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
    schemas: Arc<Mutex<SchemaCache>>,
}

impl Default for JsonConverter {
    fn default() -> Self {
        JsonConverter {
            schemas_enabled: true,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
            schemas: Arc::new(Mutex::new(SchemaCache::new(DEFAULT_CACHE_SIZE))),
        }
    }
}

/// `schemas.cache.size`'s default.
const DEFAULT_CACHE_SIZE: usize = 1000;

/// Connect schemas by the text of the envelope's `schema` they were read from (Kafka's
/// `toConnectSchemaCache`): a topic's records carry the same schema text record after
/// record, and parsing and building it again took a third of a JSON sink's time.
#[derive(Debug)]
struct SchemaCache {
    schemas: HashMap<Vec<u8>, Option<Schema>>,
    capacity: usize,
}

impl SchemaCache {
    fn new(capacity: usize) -> SchemaCache {
        SchemaCache {
            schemas: HashMap::new(),
            capacity,
        }
    }

    fn get(&self, text: &[u8]) -> Option<Option<Schema>> {
        self.schemas.get(text).cloned()
    }

    fn put(&mut self, text: &[u8], schema: Option<Schema>) {
        if self.capacity == 0 {
            return;
        }
        if self.schemas.len() >= self.capacity {
            // (simpler than Kafka's LRU, and as good for the few schemas a topic has)
            self.schemas.clear();
        }
        self.schemas.insert(text.to_vec(), schema);
    }
}

impl JsonConverter {
    /// Reads `schemas.enable`, `decimal.format`, `replace.null.with.default` and
    /// `schemas.cache.size` (how many schemas read from records are kept).
    pub fn configure(config: &Config) -> Result<JsonConverter, ConfigError> {
        let cache_size = config.int_or("schemas.cache.size", DEFAULT_CACHE_SIZE as i32)?;
        let format = config.choice_or("decimal.format", "BASE64", &["NUMERIC", "BASE64"])?;
        Ok(JsonConverter {
            schemas_enabled: config.bool_or("schemas.enable", true)?,
            decimal_format: if format == "NUMERIC" {
                DecimalFormat::Numeric
            } else {
                DecimalFormat::Base64
            },
            replace_null_with_default: config.bool_or("replace.null.with.default", true)?,
            schemas: Arc::new(Mutex::new(SchemaCache::new(cache_size.max(0) as usize))),
        })
    }

    /// With the schema envelope or not.
    pub fn with_schemas(mut self, enabled: bool) -> Self {
        self.schemas_enabled = enabled;
        self
    }

    /// The JSON tree of Connect data (what `fromConnectData` serializes).
    pub fn to_json(&self, schema: Option<&Schema>, value: &Value) -> Result<Node, DataError> {
        if self.schemas_enabled {
            Ok(Node::Object(vec![
                (
                    "schema".into(),
                    match schema {
                        Some(s) => self.json_schema(s)?,
                        None => Node::Null,
                    },
                ),
                ("payload".into(), self.value_to_json(schema, value)?),
            ]))
        } else {
            self.value_to_json(schema, value)
        }
    }

    /// Kafka's `asJsonSchema`.
    pub fn json_schema(&self, schema: &Schema) -> Result<Node, DataError> {
        let type_name = match schema.ty() {
            Type::Float32 => "float",
            Type::Float64 => "double",
            t => t.name(),
        };
        let mut members = vec![("type".to_string(), Node::Text(type_name.into()))];
        match schema.ty() {
            Type::Array => {
                let items = match schema.value_schema() {
                    Some(s) => self.json_schema(s)?,
                    None => Node::Null,
                };
                members.push(("items".into(), items));
            }
            Type::Map => {
                for (name, s) in [
                    ("keys", schema.key_schema()),
                    ("values", schema.value_schema()),
                ] {
                    let node = match s {
                        Some(s) => self.json_schema(s)?,
                        None => Node::Null,
                    };
                    members.push((name.into(), node));
                }
            }
            Type::Struct => {
                let mut fields = Vec::with_capacity(schema.fields().len());
                for field in schema.fields() {
                    let mut node = self.json_schema(field.schema())?;
                    if let Node::Object(m) = &mut node {
                        m.push(("field".into(), Node::Text(field.name().into())));
                    }
                    fields.push(node);
                }
                members.push(("fields".into(), Node::Array(fields)));
            }
            _ => {}
        }
        members.push(("optional".into(), Node::Bool(schema.is_optional())));
        if let Some(name) = schema.name() {
            members.push(("name".into(), Node::Text(name.into())));
        }
        if let Some(version) = schema.version() {
            members.push(("version".into(), Node::Int(version)));
        }
        if let Some(doc) = schema.doc() {
            members.push(("doc".into(), Node::Text(doc.into())));
        }
        if let Some(params) = schema.parameters() {
            members.push((
                "parameters".into(),
                Node::Object(
                    params
                        .iter()
                        .map(|(k, v)| (k.clone(), Node::Text(v.clone())))
                        .collect(),
                ),
            ));
        }
        if let Some(default) = schema.default_value() {
            members.push(("default".into(), self.value_to_json(Some(schema), default)?));
        }
        Ok(Node::Object(members))
    }

    /// Kafka's `convertToJson`.
    fn value_to_json(&self, schema: Option<&Schema>, value: &Value) -> Result<Node, DataError> {
        if value.is_null() {
            let Some(schema) = schema else {
                return Ok(Node::Null);
            };
            if let (Some(default), true) = (schema.default_value(), self.replace_null_with_default)
            {
                return self.value_to_json(Some(schema), default);
            }
            if schema.is_optional() {
                return Ok(Node::Null);
            }
            return Err(DataError::new(
                "Conversion error: null value for field that is required and has no default value",
            ));
        }
        if let Some(schema) = schema {
            if let Some(l) = Logical::of(schema) {
                return self.logical_to_json(l, schema, value);
            }
        }
        let ty = match schema {
            Some(s) => s.ty(),
            None => value.inferred_type().ok_or_else(|| {
                DataError::new(format!(
                    "Java class {} does not have corresponding schema type.",
                    value.java_class()
                ))
            })?,
        };
        let mismatch = || {
            let on = schema.map_or("unknown schema".to_string(), |s| s.ty().to_string());
            DataError::new(format!("Invalid type for {on}: {}", value.java_class()))
        };
        Ok(match (ty, value) {
            (Type::Int8, Value::Int8(v)) => Node::Int(i32::from(*v)),
            (Type::Int16, Value::Int16(v)) => Node::Int(i32::from(*v)),
            (Type::Int32, Value::Int32(v)) => Node::Int(*v),
            (Type::Int64, Value::Int64(v)) => Node::Long(*v),
            (Type::Float32, Value::Float32(v)) => Node::Float(*v),
            (Type::Float64, Value::Float64(v)) => Node::Double(*v),
            (Type::Boolean, Value::Boolean(v)) => Node::Bool(*v),
            (Type::String, Value::String(v)) => Node::Text(v.clone()),
            (Type::Bytes, Value::Bytes(v)) => Node::Binary(v.clone()),
            (Type::Array, Value::Array(items)) => {
                let elem = schema.and_then(|s| s.value_schema());
                Node::Array(
                    items
                        .iter()
                        .map(|v| self.value_to_json(elem, v))
                        .collect::<Result<_, _>>()?,
                )
            }
            (Type::Map, Value::Map(entries)) => {
                let object_mode = match schema {
                    None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
                    Some(s) => s.key_schema().map(|k| k.ty()) == Some(Type::String),
                };
                let ks = schema.and_then(|s| s.key_schema());
                let vs = schema.and_then(|s| s.value_schema());
                if object_mode {
                    let mut members: Vec<(String, Node)> = Vec::with_capacity(entries.len());
                    for (k, v) in entries {
                        let key = self.value_to_json(ks, k)?.as_text();
                        let value = self.value_to_json(vs, v)?;
                        match members.iter_mut().find(|(k2, _)| *k2 == key) {
                            Some(m) => m.1 = value,
                            None => members.push((key, value)),
                        }
                    }
                    Node::Object(members)
                } else {
                    Node::Array(
                        entries
                            .iter()
                            .map(|(k, v)| {
                                Ok(Node::Array(vec![
                                    self.value_to_json(ks, k)?,
                                    self.value_to_json(vs, v)?,
                                ]))
                            })
                            .collect::<Result<_, DataError>>()?,
                    )
                }
            }
            (Type::Struct, Value::Struct(s)) => {
                let schema = schema.ok_or_else(|| DataError::new("Mismatching schema."))?;
                if s.schema() != schema {
                    return Err(DataError::new("Mismatching schema."));
                }
                Node::Object(
                    schema
                        .fields()
                        .iter()
                        .zip(s.values())
                        .map(|(f, v)| {
                            Ok((
                                f.name().to_string(),
                                self.value_to_json(Some(f.schema()), v)?,
                            ))
                        })
                        .collect::<Result<_, DataError>>()?,
                )
            }
            _ => return Err(mismatch()),
        })
    }

    fn logical_to_json(
        &self,
        l: Logical,
        schema: &Schema,
        value: &Value,
    ) -> Result<Node, DataError> {
        let expected = |what: &str, wanted: &str| {
            DataError::new(format!(
                "Invalid type for {what}, expected {wanted} but was {}",
                value.java_class()
            ))
        };
        match (l, value) {
            (Logical::Decimal, Value::Decimal(d)) => Ok(match self.decimal_format {
                DecimalFormat::Numeric => Node::Decimal(d.clone()),
                DecimalFormat::Base64 => Node::Binary(logical::decimal_to_bytes(schema, d)?),
            }),
            (Logical::Decimal, _) => Err(expected("Decimal", "BigDecimal")),
            (Logical::Date, Value::Date(ms)) => Ok(Node::Int(logical::date_to_days(*ms)?)),
            (Logical::Date, _) => Err(expected("Date", "Date")),
            (Logical::Time, Value::Date(ms)) => Ok(Node::Int(logical::time_to_millis(*ms)?)),
            (Logical::Time, _) => Err(expected("Time", "Date")),
            (Logical::Timestamp, Value::Date(ms)) => Ok(Node::Long(*ms)),
            (Logical::Timestamp, _) => Err(expected("Timestamp", "Date")),
        }
    }

    /// Kafka's `asConnectSchema`; `None` for a JSON null.
    pub fn connect_schema(&self, node: &Node) -> Result<Option<Schema>, DataError> {
        if matches!(node, Node::Null) {
            return Ok(None);
        }
        let type_name = node
            .get("type")
            .text_value()
            .ok_or_else(|| DataError::new("Schema must contain 'type' field"))?;
        let mut builder = match type_name {
            "boolean" => SchemaBuilder::new(Type::Boolean),
            "int8" => SchemaBuilder::new(Type::Int8),
            "int16" => SchemaBuilder::new(Type::Int16),
            "int32" => SchemaBuilder::new(Type::Int32),
            "int64" => SchemaBuilder::new(Type::Int64),
            "float" => SchemaBuilder::new(Type::Float32),
            "double" => SchemaBuilder::new(Type::Float64),
            "bytes" => SchemaBuilder::new(Type::Bytes),
            "string" => SchemaBuilder::new(Type::String),
            "array" => {
                let items = node.get("items");
                if items.is_null_or_missing() {
                    return Err(DataError::new(
                        "Array schema did not specify the element type",
                    ));
                }
                SchemaBuilder::array(self.required_schema(items, "valueSchema")?)
            }
            "map" => {
                let keys = node.get("keys");
                if matches!(keys, Node::Missing) {
                    return Err(DataError::new("Map schema did not specify the key type"));
                }
                let values = node.get("values");
                if matches!(values, Node::Missing) {
                    return Err(DataError::new("Map schema did not specify the value type"));
                }
                SchemaBuilder::map(
                    self.required_schema(keys, "keySchema")?,
                    self.required_schema(values, "valueSchema")?,
                )
            }
            "struct" => {
                let Node::Array(fields) = node.get("fields") else {
                    return Err(DataError::new(
                        "Struct schema's \"fields\" argument is not an array.",
                    ));
                };
                let mut b = SchemaBuilder::struct_();
                for field in fields {
                    let name = field.get("field").text_value().ok_or_else(|| {
                        DataError::new("Struct schema's field name not specified properly")
                    })?;
                    let schema = self
                        .connect_schema(field)?
                        .ok_or_else(|| DataError::new("Schema must contain 'type' field"))?;
                    b = b.field(name, schema)?;
                }
                b
            }
            other => return Err(DataError::new(format!("Unknown schema type: {other}"))),
        };
        builder = builder.set_optional(matches!(node.get("optional"), Node::Bool(true)));
        if let Some(name) = node.get("name").text_value() {
            builder = builder.name(name);
        }
        let version = node.get("version");
        if version.is_integral() {
            builder = builder.version(version.int_value());
        }
        if let Some(doc) = node.get("doc").text_value() {
            builder = builder.doc(doc);
        }
        if let Node::Object(params) = node.get("parameters") {
            for (k, v) in params {
                let v = v
                    .text_value()
                    .ok_or_else(|| DataError::new("Schema parameters must have string values."))?;
                builder = builder.parameter(k.clone(), v);
            }
        }
        let default = node.get("default");
        if !matches!(default, Node::Missing) {
            let probe = builder.clone().build();
            let value = self.value_to_connect(Some(&probe), default)?;
            builder = builder
                .default_value(value)
                .map_err(|_| DataError::schema_builder("Invalid default value"))?;
        }
        Ok(Some(builder.build()))
    }

    fn required_schema(&self, node: &Node, what: &str) -> Result<Schema, DataError> {
        self.connect_schema(node)?
            .ok_or_else(|| DataError::schema_builder(format!("{what} cannot be null.")))
    }

    /// Kafka's `convertToConnect`.
    pub fn value_to_connect(
        &self,
        schema: Option<&Schema>,
        node: &Node,
    ) -> Result<Value, DataError> {
        let ty = match schema {
            Some(schema) => {
                if node.is_null_or_missing() {
                    if let (Some(d), true) =
                        (schema.default_value(), self.replace_null_with_default)
                    {
                        return Ok(d.clone());
                    }
                    if schema.is_optional() {
                        return Ok(Value::Null);
                    }
                    return Err(DataError::new(format!(
                        "Invalid null value for required {} field",
                        schema.ty()
                    )));
                }
                if let Some(l) = Logical::of(schema) {
                    return logical_to_connect(l, schema, node);
                }
                schema.ty()
            }
            None => match node {
                Node::Null | Node::Missing => return Ok(Value::Null),
                Node::Bool(_) => Type::Boolean,
                n if n.is_integral() => Type::Int64,
                n if n.is_number() => Type::Float64,
                Node::Array(_) => Type::Array,
                Node::Object(_) => Type::Map,
                Node::Text(_) => Type::String,
                _ => return Err(DataError::new("Unknown schema type: null")),
            },
        };
        Ok(match ty {
            Type::Boolean => Value::Boolean(node.boolean_value()),
            Type::Int8 => Value::Int8(node.int_value() as i8),
            Type::Int16 => Value::Int16(node.int_value() as i16),
            Type::Int32 => Value::Int32(node.int_value()),
            Type::Int64 => Value::Int64(node.long_value()),
            Type::Float32 => Value::Float32(node.float_value()),
            Type::Float64 => Value::Float64(node.double_value()),
            Type::Bytes => match node.binary_value() {
                Ok(Some(b)) => Value::Bytes(b),
                Ok(None) => Value::Null,
                Err(_) => return Err(DataError::new("Invalid bytes field")),
            },
            Type::String => node
                .text_value()
                .map_or(Value::Null, |s| Value::String(s.to_string())),
            Type::Array => {
                let elem = schema.and_then(|s| s.value_schema());
                Value::Array(
                    node.elements()
                        .into_iter()
                        .map(|e| self.value_to_connect(elem, e))
                        .collect::<Result<_, _>>()?,
                )
            }
            Type::Map => {
                let ks = schema.and_then(|s| s.key_schema());
                let vs = schema.and_then(|s| s.value_schema());
                let mut entries = Vec::new();
                if schema.is_none() || ks.map(|k| k.ty()) == Some(Type::String) {
                    let Node::Object(members) = node else {
                        return Err(DataError::new(format!(
                            "Maps with string fields should be encoded as JSON objects, but found {}",
                            node.node_type()
                        )));
                    };
                    for (k, v) in members {
                        entries.push((Value::String(k.clone()), self.value_to_connect(vs, v)?));
                    }
                } else {
                    let Node::Array(items) = node else {
                        return Err(DataError::new(format!(
                            "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                            node.node_type()
                        )));
                    };
                    for entry in items {
                        let Node::Array(pair) = entry else {
                            return Err(DataError::new(format!(
                                "Found invalid map entry instead of array tuple: {}",
                                entry.node_type()
                            )));
                        };
                        if pair.len() != 2 {
                            return Err(DataError::new(format!(
                                "Found invalid map entry, expected length 2 but found :{}",
                                pair.len()
                            )));
                        }
                        entries.push((
                            self.value_to_connect(ks, &pair[0])?,
                            self.value_to_connect(vs, &pair[1])?,
                        ));
                    }
                }
                Value::Map(java::hash_map_order(entries, java::DEFAULT_CAPACITY))
            }
            Type::Struct => {
                let schema = schema.ok_or_else(|| DataError::new("Unknown schema type: null"))?;
                if !matches!(node, Node::Object(_)) {
                    return Err(DataError::new(format!(
                        "Structs should be encoded as JSON objects, but found {}",
                        node.node_type()
                    )));
                }
                let mut s = Struct::new(schema.clone())?;
                for field in schema.fields() {
                    let v = self.value_to_connect(Some(field.schema()), node.get(field.name()))?;
                    s.put(field.name(), v)?;
                }
                Value::Struct(s)
            }
        })
    }
}

fn logical_to_connect(l: Logical, schema: &Schema, node: &Node) -> Result<Value, DataError> {
    match l {
        Logical::Decimal => {
            if node.is_number() {
                return Ok(Value::Decimal(node.decimal_value()));
            }
            match node.binary_value() {
                Ok(Some(bytes)) if matches!(node, Node::Text(_) | Node::Binary(_)) => {
                    logical::decimal_from_bytes(schema, &bytes)
                        .map(Value::Decimal)
                        .map_err(|_| DataError::new("Invalid bytes for Decimal field"))
                }
                Err(_) => Err(DataError::new("Invalid bytes for Decimal field")),
                _ => Err(DataError::new(format!(
                    "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
                    node.node_type()
                ))),
            }
        }
        Logical::Date => match node {
            Node::Int(days) => Ok(logical::days_to_date(*days)),
            _ => Err(DataError::new(format!(
                "Invalid type for Date, underlying representation should be integer but was {}",
                node.node_type()
            ))),
        },
        Logical::Time => match node {
            Node::Int(ms) => logical::millis_to_time(*ms),
            _ => Err(DataError::new(format!(
                "Invalid type for Time, underlying representation should be integer but was {}",
                node.node_type()
            ))),
        },
        Logical::Timestamp => {
            if node.is_integral() {
                Ok(Value::Date(node.long_value()))
            } else {
                Err(DataError::new(format!(
                    "Invalid type for Timestamp, underlying representation should be integral but was {}",
                    node.node_type()
                )))
            }
        }
    }
}

impl Converter for JsonConverter {
    fn to_bytes(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, DataError> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let node = self.to_json(schema, value)?;
        let mut out = Vec::new();
        json::write(&node, &mut out);
        Ok(Some(out))
    }

    fn to_connect_data(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue, DataError> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::NULL);
        };
        // a schema seen before: only the payload is parsed
        let envelope = self
            .schemas_enabled
            .then(|| json::envelope::split(bytes))
            .flatten();
        if let Some((schema_text, payload_text)) = envelope {
            let known = self.schemas.lock().ok().and_then(|c| c.get(schema_text));
            if let Some(schema) = known {
                if let Ok(payload) = json::parse(payload_text) {
                    let value = self.value_to_connect(schema.as_ref(), &payload)?;
                    return Ok(SchemaAndValue::new(schema, value));
                }
            }
        }
        let node = json::parse(bytes).map_err(|_| {
            DataError::new(
                "Converting byte[] to Kafka Connect data failed due to serialization error: ",
            )
        })?;
        if self.schemas_enabled {
            let Node::Object(members) = &node else {
                return Err(envelope_error());
            };
            if members.len() != 2
                || matches!(node.get("schema"), Node::Missing)
                || matches!(node.get("payload"), Node::Missing)
            {
                return Err(envelope_error());
            }
            let schema = self.connect_schema(node.get("schema"))?;
            if let (Some((schema_text, _)), Ok(mut cache)) = (envelope, self.schemas.lock()) {
                cache.put(schema_text, schema.clone());
            }
            let value = self.value_to_connect(schema.as_ref(), node.get("payload"))?;
            Ok(SchemaAndValue::new(schema, value))
        } else {
            Ok(SchemaAndValue::new(
                None,
                self.value_to_connect(None, &node)?,
            ))
        }
    }
}

fn envelope_error() -> DataError {
    DataError::new(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.",
    )
}
