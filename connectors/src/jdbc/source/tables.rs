//! Which tables the source copies and which task copies which: the database's tables of the
//! configured `table.types` (in schemas matching `schema.pattern`), filtered by the
//! white/black lists or include/exclude regexes, then divided into contiguous groups, one per
//! task (Kafka's `ConnectorUtils.groupPartitions`).

use tokio_postgres::Client;

use super::config::SourceSettings;
use crate::jdbc::conn::{classify, DbError};
use crate::jdbc::dialect::TableId;

/// The `pg_class.relkind`s of a JDBC table type.
pub fn relkinds(table_type: &str) -> Option<&'static [&'static str]> {
    Some(match table_type {
        "TABLE" => &["r", "p"],
        "VIEW" => &["v"],
        "MATERIALIZED VIEW" => &["m"],
        "FOREIGN TABLE" => &["f"],
        "PARTITIONED TABLE" => &["p"],
        _ => return None,
    })
}

/// The tables of the configured types, in schema and name order.
pub async fn list_tables(client: &Client, s: &SourceSettings) -> Result<Vec<TableId>, DbError> {
    let kinds: Vec<String> = s
        .table_types
        .iter()
        .filter_map(|t| relkinds(t))
        .flatten()
        .map(|k| k.to_string())
        .collect();
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind::text = ANY($1) \
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
             AND ($2::text IS NULL OR n.nspname LIKE $2::text) \
             ORDER BY 1, 2",
            &[&kinds, &s.schema_pattern],
        )
        .await
        .map_err(|e| classify("Listing the tables failed", &e))?;
    Ok(rows
        .iter()
        .map(|r| TableId::new(Some(r.get::<_, &str>(0)), r.get::<_, &str>(1)))
        .collect())
}

/// The tables the settings select, or why the selection cannot work.
pub fn select(all: &[TableId], s: &SourceSettings) -> Result<Vec<TableId>, String> {
    let named = |list: &[String], t: &TableId| {
        list.iter()
            .any(|w| *w == t.table || *w == t.unquoted() || *w == t.quoted())
    };
    let chosen: Vec<TableId> = all
        .iter()
        .filter(|t| {
            if !s.include.is_empty() {
                let fqn = t.unquoted();
                s.include.iter().any(|r| r.is_match(&fqn))
                    && !s.exclude.iter().any(|r| r.is_match(&fqn))
            } else if !s.whitelist.is_empty() {
                named(&s.whitelist, t)
            } else {
                !named(&s.blacklist, t)
            }
        })
        .cloned()
        .collect();
    // topics are named after the unqualified table name: two tables of one name would mix
    let mut duplicates: Vec<String> = Vec::new();
    for (i, t) in chosen.iter().enumerate() {
        if chosen[..i].iter().any(|o| o.table == t.table) && !duplicates.contains(&t.table) {
            duplicates.push(t.table.clone());
        }
    }
    if !duplicates.is_empty() {
        let tables: Vec<String> = chosen
            .iter()
            .filter(|t| duplicates.contains(&t.table))
            .map(TableId::unquoted)
            .collect();
        return Err(format!(
            "The connector uses the unqualified table name as the topic name and has detected \
             duplicate unqualified table names. This could lead to mixed data types in the topic \
             and downstream processing errors. To prevent such processing errors, the JDBC \
             Source connector fails to start when it detects duplicate table name configurations. \
             Update the connector's 'table.whitelist' config to include exactly one table in \
             each of the tables listed below.\n\t[{}]",
            tables.join(", ")
        ));
    }
    Ok(chosen)
}

/// `items` in `groups` contiguous groups whose sizes differ by one at most, the larger first
/// (Kafka's `ConnectorUtils.groupPartitions`).
pub fn group<T: Clone>(items: &[T], groups: usize) -> Vec<Vec<T>> {
    let groups = groups.max(1);
    let per = items.len() / groups;
    let extra = items.len() % groups;
    let mut out = Vec::with_capacity(groups);
    let mut at = 0;
    for g in 0..groups {
        let n = per + usize::from(g < extra);
        out.push(items[at..at + n].to_vec());
        at += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_connect::config::Config;

    fn settings(pairs: &[(&str, &str)]) -> SourceSettings {
        let mut c: Config = [
            ("connection.url", "jdbc:postgresql://localhost/db"),
            ("topic.prefix", "p-"),
            ("mode", "bulk"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            c.insert(k.to_string(), v.to_string());
        }
        SourceSettings::from_config(&c).unwrap()
    }

    fn tables() -> Vec<TableId> {
        [
            "public.users",
            "public.orders",
            "audit.log",
            "audit.orders_old",
        ]
        .iter()
        .map(|t| TableId::parse(t))
        .collect()
    }

    fn names(t: &[TableId]) -> Vec<String> {
        t.iter().map(TableId::unquoted).collect()
    }

    #[test]
    fn filters() {
        let all = tables();
        assert_eq!(names(&select(&all, &settings(&[])).unwrap()).len(), 4);
        let s = settings(&[("table.whitelist", "users, audit.log")]);
        assert_eq!(
            names(&select(&all, &s).unwrap()),
            ["public.users", "audit.log"]
        );
        let s = settings(&[("table.blacklist", "\"public\".\"users\",log")]);
        assert_eq!(
            names(&select(&all, &s).unwrap()),
            ["public.orders", "audit.orders_old"]
        );
        let s = settings(&[
            ("table.include.list", "public\\..*,audit\\.orders.*"),
            ("table.exclude.list", ".*users"),
        ]);
        assert_eq!(
            names(&select(&all, &s).unwrap()),
            ["public.orders", "audit.orders_old"]
        );
        let dup = vec![TableId::parse("a.t"), TableId::parse("b.t")];
        assert!(select(&dup, &settings(&[]))
            .unwrap_err()
            .contains("duplicate unqualified table names"));
    }

    #[test]
    fn grouping_is_contiguous() {
        assert_eq!(group(&[1, 2, 3, 4, 5], 2), vec![vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(group(&[1, 2], 3), vec![vec![1], vec![2], vec![]]);
        assert_eq!(group::<i32>(&[], 1), vec![Vec::<i32>::new()]);
    }
}
