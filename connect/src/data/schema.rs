//! Connect schemas: a type, whether it is optional, a default, a name, a version, a doc,
//! parameters, and the fields of a struct or the key and value schemas of a map or an array, as
//! Kafka Connect's `ConnectSchema` and `SchemaBuilder`.

use std::fmt;
use std::sync::Arc;

use super::{DataError, Value};

/// The type of a schema (Kafka's `Schema.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// An 8-bit signed integer (a Java `Byte`).
    Int8,
    /// A 16-bit signed integer (a Java `Short`).
    Int16,
    /// A 32-bit signed integer (a Java `Integer`).
    Int32,
    /// A 64-bit signed integer (a Java `Long`).
    Int64,
    /// A 32-bit float (a Java `Float`).
    Float32,
    /// A 64-bit float (a Java `Double`).
    Float64,
    /// A boolean.
    Boolean,
    /// A string.
    String,
    /// A byte array.
    Bytes,
    /// A list of values of one schema.
    Array,
    /// A map from values of a key schema to values of a value schema.
    Map,
    /// A struct of named fields.
    Struct,
}

impl Type {
    /// The lowercase name (`Schema.Type.getName()`: `int32`, `struct`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Type::Int8 => "int8",
            Type::Int16 => "int16",
            Type::Int32 => "int32",
            Type::Int64 => "int64",
            Type::Float32 => "float32",
            Type::Float64 => "float64",
            Type::Boolean => "boolean",
            Type::String => "string",
            Type::Bytes => "bytes",
            Type::Array => "array",
            Type::Map => "map",
            Type::Struct => "struct",
        }
    }

    /// Parses a lowercase or uppercase type name.
    pub fn parse(name: &str) -> Option<Type> {
        let all = [
            Type::Int8,
            Type::Int16,
            Type::Int32,
            Type::Int64,
            Type::Float32,
            Type::Float64,
            Type::Boolean,
            Type::String,
            Type::Bytes,
            Type::Array,
            Type::Map,
            Type::Struct,
        ];
        all.into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// Whether this is a primitive type (not array, map or struct).
    pub fn is_primitive(self) -> bool {
        !matches!(self, Type::Array | Type::Map | Type::Struct)
    }
}

/// Java's `Schema.Type.toString()`: the uppercase name (`INT32`), as Kafka's messages print it.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_ascii_uppercase())
    }
}

/// A field of a struct schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    name: String,
    index: usize,
    schema: Schema,
}

impl Field {
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The field's position in its struct.
    pub fn index(&self) -> usize {
        self.index
    }
    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

/// A Connect schema; cheap to clone (shared), equal by content as Kafka's `ConnectSchema`.
#[derive(Clone, PartialEq)]
pub struct Schema(Arc<SchemaData>);

#[derive(Clone, Debug)]
struct SchemaData {
    ty: Type,
    optional: bool,
    default: Option<Value>,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    /// In the order they were set (a `LinkedHashMap` in Kafka); compared as a map.
    parameters: Option<Vec<(String, String)>>,
    fields: Vec<Field>,
    key: Option<Schema>,
    value: Option<Schema>,
}

impl PartialEq for SchemaData {
    fn eq(&self, o: &Self) -> bool {
        let params_eq = match (&self.parameters, &o.parameters) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k == k2 && v == v2))
            }
            _ => false,
        };
        self.ty == o.ty
            && self.optional == o.optional
            && self.version == o.version
            && self.name == o.name
            && self.doc == o.doc
            && self.default == o.default
            && self.fields == o.fields
            && self.key == o.key
            && self.value == o.value
            && params_eq
    }
}

impl Schema {
    /// A required schema of a primitive type.
    pub fn primitive(ty: Type) -> Schema {
        SchemaBuilder::new(ty).build_unchecked()
    }
    /// An optional schema of a primitive type (`Schema.OPTIONAL_STRING_SCHEMA`, ...).
    pub fn optional(ty: Type) -> Schema {
        SchemaBuilder::new(ty).optional().build_unchecked()
    }

    /// The type.
    pub fn ty(&self) -> Type {
        self.0.ty
    }
    /// Whether null is allowed.
    pub fn is_optional(&self) -> bool {
        self.0.optional
    }
    /// The default value, if any.
    pub fn default_value(&self) -> Option<&Value> {
        self.0.default.as_ref()
    }
    /// The name.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The version, if any.
    pub fn version(&self) -> Option<i32> {
        self.0.version
    }
    /// The documentation, if any.
    pub fn doc(&self) -> Option<&str> {
        self.0.doc.as_deref()
    }
    /// The parameters, in the order they were set.
    pub fn parameters(&self) -> Option<&[(String, String)]> {
        self.0.parameters.as_deref()
    }
    /// One parameter's value.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.0
            .parameters
            .as_ref()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The fields of a struct schema (empty for other types).
    pub fn fields(&self) -> &[Field] {
        &self.0.fields
    }
    /// A field of a struct schema by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.0.fields.iter().find(|f| f.name == name)
    }
    /// The key schema of a map.
    pub fn key_schema(&self) -> Option<&Schema> {
        self.0.key.as_ref()
    }
    /// The value schema of a map or the element schema of an array.
    pub fn value_schema(&self) -> Option<&Schema> {
        self.0.value.as_ref()
    }

    /// A builder that starts as a copy of this schema (for transforms that change a name, a
    /// version or optionality).
    pub fn to_builder(&self) -> SchemaBuilder {
        SchemaBuilder {
            data: (*self.0).clone(),
        }
    }

    /// Kafka's `ConnectSchema.validateValue`: whether `value` fits this schema.
    pub fn validate_value(&self, value: &Value) -> Result<(), DataError> {
        self.validate_at(value, "value")
    }

    pub(crate) fn validate_at(&self, value: &Value, location: &str) -> Result<(), DataError> {
        if value.is_null() {
            if !self.is_optional() {
                return Err(DataError::new(format!(
                    "Invalid value: null used for required {location}, schema type: {}",
                    self.ty()
                )));
            }
            return Ok(());
        }
        if !value.fits_type(self) {
            let mut m = String::from("Invalid Java object for schema");
            if let Some(name) = self.name() {
                m.push_str(&format!(" \"{name}\""));
            }
            m.push_str(&format!(
                " with type {}: {} for {location}",
                self.ty(),
                value.java_class()
            ));
            return Err(DataError::new(m));
        }
        match value {
            Value::Struct(s) => {
                if s.schema() != self {
                    return Err(DataError::new("Struct schemas do not match."));
                }
                s.validate()
            }
            Value::Array(items) => {
                let at = format!("element of array {location}");
                let elem = self.value_schema().ok_or_else(|| missing_schema(&at))?;
                items.iter().try_for_each(|v| elem.validate_at(v, &at))
            }
            Value::Map(entries) => {
                let key_at = format!("key of map {location}");
                let value_at = format!("value of map {location}");
                let ks = self.key_schema().ok_or_else(|| missing_schema(&key_at))?;
                let vs = self
                    .value_schema()
                    .ok_or_else(|| missing_schema(&value_at))?;
                entries.iter().try_for_each(|(k, v)| {
                    ks.validate_at(k, &key_at)?;
                    vs.validate_at(v, &value_at)
                })
            }
            _ => Ok(()),
        }
    }
}

fn missing_schema(location: &str) -> DataError {
    DataError::new(format!("No schema defined for {location}"))
}

/// Java's `ConnectSchema.toString()`: `Schema{NAME:TYPE}` or `Schema{TYPE}`.
impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "Schema{{{n}:{}}}", self.ty()),
            None => write!(f, "Schema{{{}}}", self.ty()),
        }
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("type", &self.0.ty)
            .field("optional", &self.0.optional)
            .field("name", &self.0.name)
            .field("version", &self.0.version)
            .field("parameters", &self.0.parameters)
            .field("default", &self.0.default)
            .field("fields", &self.0.fields)
            .field("key", &self.0.key)
            .field("value", &self.0.value)
            .finish()
    }
}

/// Builds a [`Schema`] (Kafka's `SchemaBuilder`).
#[derive(Clone, Debug)]
pub struct SchemaBuilder {
    data: SchemaData,
}

impl SchemaBuilder {
    /// Creates it with a message.
    pub fn new(ty: Type) -> SchemaBuilder {
        SchemaBuilder {
            data: SchemaData {
                ty,
                optional: false,
                default: None,
                name: None,
                version: None,
                doc: None,
                parameters: None,
                fields: Vec::new(),
                key: None,
                value: None,
            },
        }
    }
    /// A struct schema builder.
    pub fn struct_() -> SchemaBuilder {
        SchemaBuilder::new(Type::Struct)
    }
    /// An array schema builder with this element schema.
    pub fn array(elements: Schema) -> SchemaBuilder {
        let mut b = SchemaBuilder::new(Type::Array);
        b.data.value = Some(elements);
        b
    }
    /// A map schema builder with these key and value schemas.
    pub fn map(keys: Schema, values: Schema) -> SchemaBuilder {
        let mut b = SchemaBuilder::new(Type::Map);
        b.data.key = Some(keys);
        b.data.value = Some(values);
        b
    }
    /// The type.
    pub fn ty(&self) -> Type {
        self.data.ty
    }
    /// Kafka's `SchemaBuilder.mapWithNullValues`: a map schema without a value schema (what
    /// `Values` infers for a map whose values share no schema).
    pub fn map_with_null_values(keys: Schema) -> SchemaBuilder {
        let mut b = SchemaBuilder::new(Type::Map);
        b.data.key = Some(keys);
        b
    }
    /// Allows null.
    pub fn optional(mut self) -> Self {
        self.data.optional = true;
        self
    }
    /// Disallows null.
    pub fn required(mut self) -> Self {
        self.data.optional = false;
        self
    }
    /// Allows null or not.
    pub fn set_optional(mut self, optional: bool) -> Self {
        self.data.optional = optional;
        self
    }
    /// The name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.data.name = Some(name.into());
        self
    }
    /// Sets or clears the name.
    pub fn set_name(mut self, name: Option<String>) -> Self {
        self.data.name = name;
        self
    }
    /// The version, if any.
    pub fn version(mut self, version: i32) -> Self {
        self.data.version = Some(version);
        self
    }
    /// Sets or clears the version.
    pub fn set_version(mut self, version: Option<i32>) -> Self {
        self.data.version = version;
        self
    }
    /// The documentation, if any.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.data.doc = Some(doc.into());
        self
    }
    /// Sets or clears the documentation.
    pub fn set_doc(mut self, doc: Option<String>) -> Self {
        self.data.doc = doc;
        self
    }
    /// Sets a parameter.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let params = self.data.parameters.get_or_insert_with(Vec::new);
        match params.iter_mut().find(|(k, _)| *k == name) {
            Some(p) => p.1 = value,
            None => params.push((name, value)),
        }
        self
    }
    /// Replaces the parameters.
    pub fn set_parameters(mut self, parameters: Option<Vec<(String, String)>>) -> Self {
        self.data.parameters = parameters;
        self
    }
    /// Sets the default value, checked against the schema as Kafka does.
    pub fn default_value(mut self, value: Value) -> Result<Self, DataError> {
        let probe = SchemaBuilder {
            data: SchemaData {
                default: None,
                ..self.data.clone()
            },
        }
        .build_unchecked();
        probe
            .validate_value(&value)
            .map_err(|_| DataError::schema_builder("Invalid default value"))?;
        self.data.default = if value.is_null() { None } else { Some(value) };
        Ok(self)
    }
    /// Adds a field to a struct schema ("Cannot create field because of field name duplication
    /// NAME" as Kafka).
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Result<Self, DataError> {
        let name = name.into();
        if self.data.ty != Type::Struct {
            return Err(DataError::schema_builder(
                "Cannot create fields on type ".to_string() + &self.data.ty.to_string(),
            ));
        }
        if self.data.fields.iter().any(|f| f.name == name) {
            return Err(DataError::schema_builder(format!(
                "Cannot create field because of field name duplication {name}"
            )));
        }
        let index = self.data.fields.len();
        self.data.fields.push(Field {
            name,
            index,
            schema,
        });
        Ok(self)
    }
    /// The fields added so far.
    pub fn fields(&self) -> &[Field] {
        &self.data.fields
    }
    /// The schema.
    pub fn build(self) -> Schema {
        self.build_unchecked()
    }
    fn build_unchecked(self) -> Schema {
        Schema(Arc::new(self.data))
    }
}
