//! Kafka's `SingleFieldPath`: a field named by `field.syntax.version` V1 (the name as it is)
//! or V2 (a dotted path into nested structs or maps; backticks around a step that holds dots).

use crate::config::{Config, ConfigError, ConfigExt};
use crate::data::{DataError, Field, Schema, Struct, Type, Value};

use super::util;

/// A path to a (possibly nested) field.
#[derive(Clone, Debug)]
pub(crate) struct FieldPath {
    steps: Vec<String>,
}

impl FieldPath {
    /// The path `text` under the config's `field.syntax.version`.
    pub(crate) fn new(text: &str, config: &Config) -> Result<FieldPath, ConfigError> {
        let version = config.choice_or("field.syntax.version", "V1", &["V1", "V2"])?;
        let steps = if version == "V2" {
            parse_path_v2(text)?
        } else {
            vec![text.to_string()]
        };
        Ok(FieldPath { steps })
    }

    fn split(&self) -> (&str, &[String]) {
        match self.steps.split_last() {
            Some((last, parents)) => (last, parents),
            None => ("", &[]),
        }
    }

    /// The field in a schema (`None` when a step is missing); a step through a non-struct
    /// fails as in Kafka.
    pub(crate) fn field_from(&self, schema: &Schema) -> Result<Option<Field>, DataError> {
        let (last, parents) = self.split();
        let mut current = schema.clone();
        for step in parents {
            match lookup(&current, step)? {
                Some(f) => current = f.schema().clone(),
                None => return Ok(None),
            }
        }
        lookup(&current, last)
    }

    /// The field's value in a struct (null when a step is missing or null).
    pub(crate) fn value_from_struct(
        &self,
        s: &Struct,
        with_default: bool,
    ) -> Result<Value, DataError> {
        let (last, parents) = self.split();
        let mut current = s.clone();
        for step in parents {
            if current.schema().field(step).is_none() {
                return Ok(Value::Null);
            }
            match current.get(step)? {
                Value::Null => return Ok(Value::Null),
                v => current = util::require_struct(v, "nested field access")?.clone(),
            }
        }
        if current.schema().field(last).is_some() {
            util::field_value(&current, last, with_default)
        } else {
            Ok(Value::Null)
        }
    }

    /// The field's value in a map (null when a step is missing or null).
    pub(crate) fn value_from_map(&self, entries: &[(Value, Value)]) -> Result<Value, DataError> {
        let (last, parents) = self.split();
        let mut current = entries;
        for step in parents {
            match util::map_get(current, step) {
                Value::Null => return Ok(Value::Null),
                v => current = util::require_map(v, "nested field access")?,
            }
        }
        Ok(util::map_get(current, last).clone())
    }
}

/// `Schema.field(name)`: Kafka refuses to look up fields of anything but a struct.
fn lookup(schema: &Schema, name: &str) -> Result<Option<Field>, DataError> {
    if schema.ty() != Type::Struct {
        return Err(DataError::new("Cannot look up fields on non-struct type"));
    }
    Ok(schema.field(name).cloned())
}

/// Kafka's `SingleFieldPath` V2 syntax: steps split at dots; a step in backticks may hold dots
/// (a backtick followed by a dot inside it is escaped with a backslash).
fn parse_path_v2(path: &str) -> Result<Vec<String>, ConfigError> {
    let chars: Vec<char> = path.chars().collect();
    let mut steps = Vec::new();
    let mut idx = 0usize;
    let fail = |at: usize| {
        ConfigError::new(format!(
            "Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {at} to escape it"
        ))
    };
    while idx < chars.len() {
        if chars[idx] != '`' {
            let start = idx;
            match chars[idx..].iter().position(|c| *c == '.') {
                Some(p) => {
                    steps.push(chars[start..idx + p].iter().collect());
                    idx += p + 1;
                }
                None => {
                    steps.push(chars[start..].iter().collect());
                    idx = chars.len();
                }
            }
        } else {
            let backtick_at = idx;
            idx += 1;
            let mut field = String::new();
            let mut start = idx;
            loop {
                let Some(p) = chars[idx..].iter().position(|c| *c == '`') else {
                    return Err(fail(backtick_at));
                };
                idx += p;
                let escaped = chars[idx - 1] == '\\';
                if idx >= chars.len() - 1 {
                    if escaped {
                        return Err(fail(backtick_at));
                    }
                    field.extend(&chars[start..idx]);
                    steps.push(field);
                    idx += 1;
                    break;
                }
                if chars[idx + 1] != '.' {
                    idx += 1;
                    continue;
                }
                if escaped {
                    field.extend(&chars[start..idx - 1]);
                    field.push('`');
                    idx += 1;
                    start = idx;
                    continue;
                }
                field.extend(&chars[start..idx]);
                steps.push(field);
                idx += 2;
                break;
            }
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}
