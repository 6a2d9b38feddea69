//! Destination tables (Confluent's `DbStructure`): what a table has, and the `CREATE TABLE`
//! (`auto.create`) and `ALTER TABLE .. ADD` (`auto.evolve`) that make it fit the records.
//! DDL runs in a transaction of its own, before the writes.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::config::SinkSettings;
use super::fields::{FieldsMetadata, SinkField};
use crate::jdbc::conn::{classify, DbError};
use crate::jdbc::dialect::{quote, quote_list, TableId};
use crate::jdbc::types::encode::{sql_literal, sql_type};

/// A table as the database has it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDefinition {
    /// Its columns, in order.
    pub columns: Vec<String>,
    /// Whether it is a view (which cannot be altered).
    pub view: bool,
}

/// Why a table cannot take the records (Confluent's `TableAlterOrCreateException`), or a
/// database failure on the way.
#[derive(Clone, Debug, PartialEq)]
pub enum StructureError {
    /// The records do not fit and the settings do not allow fixing the table.
    Refused(String),
    /// The database failed.
    Db(DbError),
}

/// A table's columns, or `None` when there is no such table.
pub async fn describe(
    client: &Client,
    table: &TableId,
) -> Result<Option<TableDefinition>, DbError> {
    let rows = client
        .query(
            "SELECT c.relkind::text, a.attname::text FROM pg_catalog.pg_class c \
             LEFT JOIN pg_catalog.pg_attribute a \
               ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE c.oid = pg_catalog.to_regclass($1)::oid ORDER BY a.attnum",
            &[&table.quoted()],
        )
        .await
        .map_err(|e| classify(&format!("Describing table {}", table.unquoted()), &e))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let kind: &str = first.get(0);
    Ok(Some(TableDefinition {
        columns: rows
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(1))
            .collect(),
        view: matches!(kind, "v" | "m"),
    }))
}

fn column_spec(f: &SinkField) -> Result<String, String> {
    let ty = sql_type(&f.schema).ok_or_else(|| {
        format!(
            "{} ({}) type doesn't have a mapping to the SQL database column type",
            f.schema.name().unwrap_or("null"),
            f.schema.ty()
        )
    })?;
    let mut spec = format!("{} {ty}", quote(&f.name));
    match f
        .schema
        .default_value()
        .and_then(|d| sql_literal(&f.schema, d))
    {
        Some(d) => spec.push_str(&format!(" DEFAULT {d}")),
        None if f.schema.is_optional() => spec.push_str(" NULL"),
        None => spec.push_str(" NOT NULL"),
    }
    Ok(spec)
}

/// `CREATE TABLE` with every field as a column and the key fields as the primary key.
pub fn create_sql(table: &TableId, fields: &[SinkField]) -> Result<String, String> {
    let columns = fields
        .iter()
        .map(|f| column_spec(f).map(|s| format!("\n{s}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sql = format!("CREATE TABLE {} ({}", table.quoted(), columns.join(","));
    let pk: Vec<&str> = fields
        .iter()
        .filter(|f| f.pk)
        .map(|f| f.name.as_str())
        .collect();
    if !pk.is_empty() {
        sql.push_str(&format!(",\nPRIMARY KEY({})", quote_list(pk)));
    }
    sql.push(')');
    Ok(sql)
}

/// `ALTER TABLE .. ADD` of the missing fields (one statement).
pub fn alter_sql(table: &TableId, missing: &[&SinkField]) -> Result<String, String> {
    let newline = if missing.len() > 1 { "\n" } else { "" };
    let adds = missing
        .iter()
        .map(|f| column_spec(f).map(|s| format!("{newline}ADD {s}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("ALTER TABLE {} {}", table.quoted(), adds.join(",")))
}

/// The tables a task has seen.
#[derive(Default)]
pub struct Structures {
    tables: HashMap<TableId, TableDefinition>,
}

impl Structures {
    /// Forgets every table (after a reconnect, or when a statement fails).
    pub fn clear(&mut self) {
        self.tables.clear();
    }

    /// The table's definition, read once.
    pub async fn get(
        &mut self,
        client: &Client,
        table: &TableId,
    ) -> Result<Option<TableDefinition>, DbError> {
        if let Some(t) = self.tables.get(table) {
            return Ok(Some(t.clone()));
        }
        let found = describe(client, table).await?;
        if let Some(t) = &found {
            self.tables.insert(table.clone(), t.clone());
        }
        Ok(found)
    }

    async fn refresh(
        &mut self,
        client: &Client,
        table: &TableId,
    ) -> Result<Option<TableDefinition>, DbError> {
        self.tables.remove(table);
        self.get(client, table).await
    }

    /// Makes the table fit the fields: creates it when missing, adds missing columns, as the
    /// settings allow (Confluent's `createOrAmendIfNecessary`).
    pub async fn ensure(
        &mut self,
        client: &Client,
        s: &SinkSettings,
        table: &TableId,
        fields: &FieldsMetadata,
    ) -> Result<(), StructureError> {
        let defn = match self.get(client, table).await.map_err(StructureError::Db)? {
            Some(d) => d,
            None => {
                if !s.auto_create {
                    return Err(StructureError::Refused(format!(
                        "Table {} is missing and auto-creation is disabled",
                        table.quoted()
                    )));
                }
                let sql = create_sql(table, &fields.all).map_err(StructureError::Refused)?;
                tracing::info!(%sql, "creating table");
                if let Err(e) = client.batch_execute(&sql).await {
                    // another task may have created it meanwhile
                    let e = classify(&format!("Creating table {}", table.unquoted()), &e);
                    if self.refresh(client, table).await.ok().flatten().is_none() {
                        return Err(StructureError::Db(e));
                    }
                }
                self.refresh(client, table)
                    .await
                    .map_err(StructureError::Db)?
                    .ok_or_else(|| {
                        StructureError::Refused(format!(
                            "Table {} could not be created",
                            table.quoted()
                        ))
                    })?
            }
        };
        let missing: Vec<&SinkField> = fields
            .all
            .iter()
            .filter(|f| !defn.columns.contains(&f.name))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|f| f.name.as_str()).collect();
        if defn.view {
            return Err(StructureError::Refused(format!(
                "View {} is missing fields ({}) and ALTER VIEW is unsupported",
                table.quoted(),
                names.join(", ")
            )));
        }
        if let Some(f) = missing
            .iter()
            .find(|f| !f.schema.is_optional() && f.schema.default_value().is_none())
        {
            return Err(StructureError::Refused(format!(
                "Cannot ALTER TABLE {} to add missing field {}, as the field is not optional and does not have a default value",
                table.quoted(),
                f.name
            )));
        }
        if !s.auto_evolve {
            return Err(StructureError::Refused(format!(
                "Table {} is missing fields ({}) and auto-evolution is disabled",
                table.quoted(),
                names.join(", ")
            )));
        }
        let sql = alter_sql(table, &missing).map_err(StructureError::Refused)?;
        tracing::info!(%sql, "amending table to add missing fields");
        if let Err(e) = client.batch_execute(&sql).await {
            let e = classify(&format!("Altering table {}", table.unquoted()), &e);
            // another task may have added them meanwhile
            let now = self
                .refresh(client, table)
                .await
                .map_err(StructureError::Db)?;
            if now.is_some_and(|d| fields.all.iter().all(|f| d.columns.contains(&f.name))) {
                return Ok(());
            }
            return Err(StructureError::Db(e));
        }
        self.refresh(client, table)
            .await
            .map_err(StructureError::Db)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connect::data::{Schema, SchemaBuilder, Type, Value};

    fn field(name: &str, schema: Schema, pk: bool) -> SinkField {
        SinkField {
            name: name.into(),
            schema,
            pk,
        }
    }

    #[test]
    fn ddl() {
        let t = TableId::parse("orders");
        let fields = vec![
            field("id", Schema::primitive(Type::Int64), true),
            field("note", Schema::optional(Type::String), false),
            field(
                "qty",
                SchemaBuilder::new(Type::Int32)
                    .default_value(Value::Int32(1))
                    .unwrap()
                    .build(),
                false,
            ),
        ];
        assert_eq!(
            create_sql(&t, &fields).unwrap(),
            "CREATE TABLE \"orders\" (\n\"id\" BIGINT NOT NULL,\n\"note\" TEXT NULL,\n\"qty\" INT DEFAULT 1,\nPRIMARY KEY(\"id\"))"
        );
        assert_eq!(
            alter_sql(&t, &[&fields[1]]).unwrap(),
            "ALTER TABLE \"orders\" ADD \"note\" TEXT NULL"
        );
        assert_eq!(
            alter_sql(&t, &[&fields[1], &fields[2]]).unwrap(),
            "ALTER TABLE \"orders\" \nADD \"note\" TEXT NULL,\nADD \"qty\" INT DEFAULT 1"
        );
        let bad = field("m", SchemaBuilder::struct_().build(), false);
        assert!(create_sql(&t, &[bad])
            .unwrap_err()
            .contains("doesn't have a mapping"));
    }
}
