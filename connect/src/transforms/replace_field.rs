//! `ReplaceField$Key` / `ReplaceField$Value`: keeps (`include`), drops (`exclude`) and renames
//! (`renames`, `old:new`) fields.

use crate::config::{Config, ConfigError};
use crate::data::{java, DataError, SchemaBuilder, Struct, Value};
use crate::record::ConnectRecord;

use super::util::{self, Side};
use super::Transformation;

const PURPOSE: &str = "field replacement";

/// Kafka's ReplaceField.
pub struct ReplaceField {
    side: Side,
    exclude: Vec<String>,
    include: Vec<String>,
    renames: Vec<(String, String)>,
    replace_null_with_default: bool,
}

impl ReplaceField {
    pub(crate) fn configure(side: Side, config: &Config) -> Result<ReplaceField, ConfigError> {
        let mappings = util::distinct_list(config, "renames")?;
        let mut renames: Vec<(String, String)> = Vec::new();
        for m in &mappings {
            // Java's String.split(":") drops trailing empty parts
            let mut parts: Vec<&str> = m.split(':').collect();
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
            if parts.len() != 2 {
                return Err(ConfigError::invalid(
                    "renames",
                    &format!("[{}]", mappings.join(", ")),
                    &format!("Invalid rename mapping: {m}"),
                ));
            }
            match renames.iter_mut().find(|(from, _)| from == parts[0]) {
                Some(r) => r.1 = parts[1].to_string(),
                None => renames.push((parts[0].to_string(), parts[1].to_string())),
            }
        }
        Ok(ReplaceField {
            side,
            exclude: util::distinct_list(config, "exclude")?,
            include: util::distinct_list(config, "include")?,
            renames,
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.iter().any(|e| e == name)
            && (self.include.is_empty() || self.include.iter().any(|i| i == name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames
            .iter()
            .find(|(from, _)| from == name)
            .map_or(name, |(_, to)| to.as_str())
    }

    fn reverse_renamed<'a>(&'a self, name: &'a str) -> &'a str {
        // Kafka inverts its renames HashMap: of two renames to one name, the one that map
        // iterates last wins
        let froms: Vec<String> = self.renames.iter().map(|(f, _)| f.clone()).collect();
        let mut found = None;
        for from in util::java_set_order(&froms, java::DEFAULT_CAPACITY) {
            if let Some((f, _)) = self.renames.iter().find(|(f, to)| *f == from && to == name) {
                found = Some(f.as_str());
            }
        }
        found.unwrap_or(name)
    }
}

impl Transformation for ReplaceField {
    fn apply(&mut self, r: ConnectRecord) -> Result<Option<ConnectRecord>, DataError> {
        let value = self.side.value(&r);
        if value.is_null() {
            return Ok(Some(r));
        }
        let Some(schema) = self.side.schema(&r) else {
            let entries = util::require_map(value, PURPOSE)?;
            let mut kept = Vec::new();
            for (k, v) in entries {
                let name = k.as_str().unwrap_or_default();
                if self.keep(name) {
                    kept.push((Value::String(self.renamed(name).to_string()), v.clone()));
                }
            }
            let capacity = java::sized_capacity(entries.len());
            let updated = Value::Map(java::hash_map_order(kept, capacity));
            return Ok(Some(self.side.set(r, None, updated)));
        };
        let value = util::require_struct(value, PURPOSE)?;
        let mut b = util::copy_schema_basics(schema, SchemaBuilder::struct_());
        for f in schema.fields() {
            if self.keep(f.name()) {
                b = b.field(self.renamed(f.name()), f.schema().clone())?;
            }
        }
        let updated_schema = b.build();
        let mut updated = Struct::new(updated_schema.clone())?;
        for f in updated_schema.fields() {
            let v = util::field_value(
                value,
                self.reverse_renamed(f.name()),
                self.replace_null_with_default,
            )?;
            updated.put(f.name(), v)?;
        }
        Ok(Some(self.side.set(
            r,
            Some(updated_schema),
            Value::Struct(updated),
        )))
    }
}
