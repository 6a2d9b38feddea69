//! The SQL the sink writes with (Confluent's `PostgreSqlDatabaseDialect`, with many rows per
//! `INSERT`): parameters are numbered `$1..` and take the column's type.
//!
//! ```text
//!  insert: INSERT INTO "t" ("k","a") VALUES ($1,$2),($3,$4)
//!  upsert: INSERT INTO "t" ("k","a") VALUES ($1,$2),($3,$4) ON CONFLICT ("k") DO UPDATE SET "a"=EXCLUDED."a"
//!  update: UPDATE "t" SET "a" = $1 WHERE "k" = $2
//!  delete: DELETE FROM "t" WHERE "k" = $1
//! ```

use crate::jdbc::dialect::{quote, quote_list, TableId};

/// PostgreSQL's limit of parameters in one statement.
pub const MAX_PARAMETERS: usize = 65_535;

fn values(columns: usize, rows: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push(',');
            }
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        }
        out.push(')');
    }
    out
}

/// `INSERT` of `rows` rows.
pub fn insert_sql(table: &TableId, columns: &[String], rows: usize) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        table.quoted(),
        quote_list(columns.iter().map(String::as_str)),
        values(columns.len(), rows)
    )
}

/// `INSERT .. ON CONFLICT (key) DO UPDATE SET` (`DO NOTHING` without other columns) of
/// `rows` rows.
pub fn upsert_sql(table: &TableId, key: &[String], non_key: &[String], rows: usize) -> String {
    let columns: Vec<String> = key.iter().chain(non_key).cloned().collect();
    let mut sql = insert_sql(table, &columns, rows);
    sql.push_str(&format!(
        " ON CONFLICT ({})",
        quote_list(key.iter().map(String::as_str))
    ));
    if non_key.is_empty() {
        sql.push_str(" DO NOTHING");
    } else {
        let sets: Vec<String> = non_key
            .iter()
            .map(|c| format!("{}=EXCLUDED.{}", quote(c), quote(c)))
            .collect();
        sql.push_str(&format!(" DO UPDATE SET {}", sets.join(",")));
    }
    sql
}

/// `UPDATE .. SET (non-key columns) WHERE (key columns)`: the non-key values come first.
pub fn update_sql(table: &TableId, key: &[String], non_key: &[String]) -> String {
    let sets: Vec<String> = non_key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ${}", quote(c), i + 1))
        .collect();
    let wheres: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ${}", quote(c), non_key.len() + i + 1))
        .collect();
    format!(
        "UPDATE {} SET {} WHERE {}",
        table.quoted(),
        sets.join(", "),
        wheres.join(" AND ")
    )
}

/// `DELETE .. WHERE (key columns)`.
pub fn delete_sql(table: &TableId, key: &[String]) -> String {
    let wheres: Vec<String> = key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = ${}", quote(c), i + 1))
        .collect();
    format!(
        "DELETE FROM {} WHERE {}",
        table.quoted(),
        wheres.join(" AND ")
    )
}

/// How many rows one multi-row statement of `columns` columns takes.
pub fn rows_per_statement(columns: usize, batch_size: usize) -> usize {
    (MAX_PARAMETERS / columns.max(1)).min(batch_size).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn statements() {
        let t = TableId::parse("public.orders");
        assert_eq!(
            insert_sql(&t, &s(&["id", "qty"]), 2),
            "INSERT INTO \"public\".\"orders\" (\"id\",\"qty\") VALUES ($1,$2),($3,$4)"
        );
        assert_eq!(
            upsert_sql(&t, &s(&["id"]), &s(&["qty", "note"]), 1),
            "INSERT INTO \"public\".\"orders\" (\"id\",\"qty\",\"note\") VALUES ($1,$2,$3) \
             ON CONFLICT (\"id\") DO UPDATE SET \"qty\"=EXCLUDED.\"qty\",\"note\"=EXCLUDED.\"note\""
        );
        assert_eq!(
            upsert_sql(&t, &s(&["a", "b"]), &[], 1),
            "INSERT INTO \"public\".\"orders\" (\"a\",\"b\") VALUES ($1,$2) ON CONFLICT (\"a\",\"b\") DO NOTHING"
        );
        assert_eq!(
            update_sql(&t, &s(&["id", "region"]), &s(&["qty"])),
            "UPDATE \"public\".\"orders\" SET \"qty\" = $1 WHERE \"id\" = $2 AND \"region\" = $3"
        );
        assert_eq!(
            delete_sql(&t, &s(&["id"])),
            "DELETE FROM \"public\".\"orders\" WHERE \"id\" = $1"
        );
        assert_eq!(rows_per_statement(10, 3000), 3000);
        assert_eq!(rows_per_statement(100, 3000), 655);
        assert_eq!(rows_per_statement(0, 5), 5);
    }
}
