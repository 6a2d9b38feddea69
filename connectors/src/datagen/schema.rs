//! Avro schemas with Avro Random Generator's `arg.properties`, parsed once into a tree of
//! [`Node`]s that knows both what to generate and the Connect schema of what it generates
//! (the one Confluent's `AvroData` would give: records become structs named by their full
//! name, `ksql.users`; `["null", T]` an optional `T`; `timestamp-millis` a `Timestamp`).
//!
//! ```text
//!  Avro JSON ─▶ parse() ─▶ Node { kind, args, connect schema } ─▶ generate::value(node, ..)
//! ```

use std::collections::HashMap;

use serde_json::{Map as JsonMap, Value as Json};
use tributary_connect::data::logical::{self, Logical};
use tributary_connect::data::{Schema, SchemaBuilder, Type};

use super::args;
pub use super::args::{logical_value, to_value, Args, Iteration};

/// What kind of Avro schema a node is.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int` (a `date` or `time-millis` with its logical type).
    Int,
    /// `long` (a `timestamp-millis` with its logical type).
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `fixed` of this size.
    Fixed(usize),
    /// `enum` with its symbols.
    Enum(Vec<String>),
    /// `array` of these items.
    Array(Box<Node>),
    /// `map` with string keys and these values.
    Map(Box<Node>),
    /// `record` with its fields (name and node).
    Record(Vec<(String, Node)>),
    /// `["null", T]` (or `[T, "null"]`): `T`, and whether null is the first branch.
    Nullable(Box<Node>, bool),
}

/// One Avro schema: what to generate, how, and the Connect schema of the result.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The Avro type.
    pub kind: Kind,
    /// Its `arg.properties`.
    pub args: Args,
    /// Its logical type, if any.
    pub logical: Option<Logical>,
    /// The Connect schema of its values.
    pub schema: Schema,
}

/// Parses an Avro schema's JSON text.
pub fn parse(text: &str) -> Result<Node, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    Parser::default().node(&json, "", None)
}

#[derive(Default)]
struct Parser {
    /// Named types seen so far, by full name, for references.
    named: HashMap<String, Node>,
}

impl Parser {
    fn node(&mut self, json: &Json, namespace: &str, doc: Option<&str>) -> Result<Node, String> {
        match json {
            Json::String(name) => self.reference(name, namespace, doc),
            Json::Array(branches) => self.union(branches, namespace, doc),
            Json::Object(obj) => self.object(obj, namespace, doc),
            other => Err(format!("not an Avro schema: {other}")),
        }
    }

    fn reference(
        &mut self,
        name: &str,
        namespace: &str,
        doc: Option<&str>,
    ) -> Result<Node, String> {
        if let Some(kind) = primitive(name) {
            return finish(kind, Args::default(), None, None, doc);
        }
        let full = full_name(name, namespace);
        self.named
            .get(&full)
            .or_else(|| self.named.get(name))
            .cloned()
            .ok_or_else(|| format!("unknown type {name:?}"))
    }

    fn union(
        &mut self,
        branches: &[Json],
        namespace: &str,
        doc: Option<&str>,
    ) -> Result<Node, String> {
        let nodes = branches
            .iter()
            .map(|b| self.node(b, namespace, None))
            .collect::<Result<Vec<_>, _>>()?;
        let nulls = nodes.iter().filter(|n| n.kind == Kind::Null).count();
        match (nodes.len(), nulls) {
            (1, _) => Ok(nodes.into_iter().next().ok_or("an empty union")?),
            (2, 1) => {
                let null_first = nodes[0].kind == Kind::Null;
                let inner = nodes
                    .into_iter()
                    .find(|n| n.kind != Kind::Null)
                    .ok_or("a null union")?;
                let schema = with_doc(inner.schema.to_builder().optional(), doc).build();
                Ok(Node {
                    kind: Kind::Nullable(Box::new(inner), null_first),
                    args: Args::default(),
                    logical: None,
                    schema,
                })
            }
            _ => Err("only unions of null and one other type are supported".into()),
        }
    }

    fn object(
        &mut self,
        obj: &JsonMap<String, Json>,
        namespace: &str,
        doc: Option<&str>,
    ) -> Result<Node, String> {
        let ty = obj.get("type").ok_or("a schema without \"type\"")?;
        let Json::String(ty) = ty else {
            // {"type": {...}} or {"type": [...]}: the inner schema (its own args win)
            return self.node(ty, namespace, doc);
        };
        let props = obj.get("arg.properties");
        let name = obj.get("name").and_then(Json::as_str);
        let ns = obj
            .get("namespace")
            .and_then(Json::as_str)
            .unwrap_or(namespace);
        let full = name.map(|n| full_name(n, ns));
        // a named type's own namespace is that of its full name
        let inner_ns = full
            .as_deref()
            .and_then(|f| f.rsplit_once('.').map(|(n, _)| n))
            .unwrap_or(ns)
            .to_string();
        let own_doc = obj.get("doc").and_then(Json::as_str).or(doc);
        let kind = match ty.as_str() {
            "record" | "error" => {
                let fields = obj
                    .get("fields")
                    .and_then(Json::as_array)
                    .ok_or("a record without \"fields\"")?;
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    let fname = f
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or("a field without a name")?;
                    let ftype = f
                        .get("type")
                        .ok_or_else(|| format!("field {fname} has no type"))?;
                    let fdoc = f.get("doc").and_then(Json::as_str);
                    let node = self
                        .node(ftype, &inner_ns, fdoc)
                        .map_err(|e| format!("field {fname}: {e}"))?;
                    out.push((fname.to_string(), node));
                }
                Kind::Record(out)
            }
            "enum" => {
                let symbols = obj
                    .get("symbols")
                    .and_then(Json::as_array)
                    .ok_or("an enum without \"symbols\"")?;
                Kind::Enum(
                    symbols
                        .iter()
                        .map(|s| {
                            s.as_str()
                                .map(str::to_string)
                                .ok_or("a symbol that is not a string")
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            "fixed" => Kind::Fixed(
                obj.get("size")
                    .and_then(Json::as_u64)
                    .ok_or("a fixed without a size")? as usize,
            ),
            "array" => Kind::Array(Box::new(self.node(
                obj.get("items").ok_or("an array without \"items\"")?,
                &inner_ns,
                None,
            )?)),
            "map" => Kind::Map(Box::new(self.node(
                obj.get("values").ok_or("a map without \"values\"")?,
                &inner_ns,
                None,
            )?)),
            other => primitive(other).ok_or_else(|| format!("unknown type {other:?}"))?,
        };
        let logical = match obj.get("logicalType").and_then(Json::as_str) {
            Some("timestamp-millis") if kind == Kind::Long => Some(Logical::Timestamp),
            Some("date") if kind == Kind::Int => Some(Logical::Date),
            Some("time-millis") if kind == Kind::Int => Some(Logical::Time),
            Some("decimal") => return Err("the decimal logical type is not supported".into()),
            _ => None,
        };
        let mut node = finish(kind, Args::default(), logical, full.as_deref(), own_doc)?;
        if let Some(props) = props {
            node.args = args::parse(&node, props, &mut |j| self.node(j, &inner_ns, None))?;
        }
        if let Some(full) = full {
            self.named.insert(full, node.clone());
        }
        Ok(node)
    }
}

fn primitive(name: &str) -> Option<Kind> {
    Some(match name {
        "null" => Kind::Null,
        "boolean" => Kind::Boolean,
        "int" => Kind::Int,
        "long" => Kind::Long,
        "float" => Kind::Float,
        "double" => Kind::Double,
        "string" => Kind::String,
        "bytes" => Kind::Bytes,
        _ => return None,
    })
}

fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

fn with_doc(b: SchemaBuilder, doc: Option<&str>) -> SchemaBuilder {
    match doc {
        Some(d) => b.doc(d),
        None => b,
    }
}

/// The node with its Connect schema.
fn finish(
    kind: Kind,
    args: Args,
    logical: Option<Logical>,
    name: Option<&str>,
    doc: Option<&str>,
) -> Result<Node, String> {
    let b = match (&kind, logical) {
        (_, Some(Logical::Timestamp)) => logical::timestamp_schema(),
        (_, Some(Logical::Date)) => logical::date_schema(),
        (_, Some(Logical::Time)) => logical::time_schema(),
        (Kind::Null, _) => SchemaBuilder::new(Type::String).optional(),
        (Kind::Boolean, _) => SchemaBuilder::new(Type::Boolean),
        (Kind::Int, _) => SchemaBuilder::new(Type::Int32),
        (Kind::Long, _) => SchemaBuilder::new(Type::Int64),
        (Kind::Float, _) => SchemaBuilder::new(Type::Float32),
        (Kind::Double, _) => SchemaBuilder::new(Type::Float64),
        (Kind::String, _) => SchemaBuilder::new(Type::String),
        (Kind::Bytes, _) => SchemaBuilder::new(Type::Bytes),
        (Kind::Fixed(size), _) => {
            SchemaBuilder::new(Type::Bytes).parameter("connect.fixed.size", size.to_string())
        }
        (Kind::Enum(symbols), _) => {
            let mut b = SchemaBuilder::new(Type::String);
            if let Some(n) = name {
                b = b.parameter("io.confluent.connect.avro.Enum", n);
            }
            for s in symbols {
                b = b.parameter(format!("io.confluent.connect.avro.Enum.{s}"), s.as_str());
            }
            b
        }
        (Kind::Array(items), _) => SchemaBuilder::array(items.schema.clone()),
        (Kind::Map(values), _) => {
            SchemaBuilder::map(Schema::primitive(Type::String), values.schema.clone())
        }
        (Kind::Record(fields), _) => {
            let mut b = SchemaBuilder::struct_();
            if let Some(n) = name {
                b = b.name(n);
            }
            for (fname, node) in fields {
                b = b
                    .field(fname.as_str(), node.schema.clone())
                    .map_err(|e| e.to_string())?;
            }
            b
        }
        (Kind::Nullable(inner, _), _) => inner.schema.to_builder().optional(),
    };
    Ok(Node {
        kind,
        args,
        logical,
        schema: with_doc(b, doc).build(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_named_structs() {
        let n = parse(
            r#"{"namespace": "ksql", "name": "orders", "type": "record", "fields": [
                {"name": "id", "type": {"type": "int", "arg.properties": {"iteration": {"start": 0}}}},
                {"name": "address", "type": {"name": "address", "type": "record", "fields": [
                    {"name": "zip", "type": "long"}]}},
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                {"name": "note", "type": ["null", "string"], "doc": "why"},
                {"name": "tags", "type": {"type": "array", "items": "string"}},
                {"name": "again", "type": "address"}]}"#,
        )
        .expect("parses");
        let s = &n.schema;
        assert_eq!(s.name(), Some("ksql.orders"));
        let names: Vec<&str> = s.fields().iter().map(|f| f.name()).collect();
        assert_eq!(names, ["id", "address", "at", "note", "tags", "again"]);
        let f = |n: &str| s.field(n).map(|f| f.schema().clone()).expect("a field");
        assert_eq!(f("id").ty(), Type::Int32);
        assert!(!f("id").is_optional());
        assert_eq!(f("address").name(), Some("ksql.address"));
        assert_eq!(f("again"), f("address"));
        assert_eq!(f("at").name(), Some(logical::TIMESTAMP));
        assert!(f("note").is_optional());
        assert_eq!(f("note").doc(), Some("why"));
        assert_eq!(f("tags").value_schema().map(Schema::ty), Some(Type::String));
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        let field = |t: &str| {
            format!(
                r#"{{"type": "record", "name": "r", "fields": [{{"name": "f", "type": {t}}}]}}"#
            )
        };
        for (t, why) in [
            (
                r#"{"type": "int", "arg.properties": {"range": {"min": 5, "max": 5}}}"#,
                "range",
            ),
            (
                r#"{"type": "int", "arg.properties": {"options": [1.5]}}"#,
                "option",
            ),
            (
                r#"{"type": "int", "arg.properties": {"options": []}}"#,
                "options",
            ),
            (
                r#"{"type": "string", "arg.properties": {"regex": "[a-"}}"#,
                "regex",
            ),
            (
                r#"{"type": "int", "arg.properties": {"iteration": {"start": 5, "restart": 5}}}"#,
                "iteration",
            ),
            (r#"["int", "string"]"#, "unions"),
            (r#""nosuch""#, "unknown"),
        ] {
            let e = parse(&field(t)).expect_err(t);
            assert!(e.contains(why), "{t}: {e}");
            assert!(e.starts_with("field f"), "{e}");
        }
        assert!(parse("{").is_err());
    }
}
