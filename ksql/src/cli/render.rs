//! Answers printed as ksqlDB's CLI prints them: boxed tables of entities, `Message` tables of
//! statuses, and push query rows as they come.

use serde_json::Value;

/// A table: a header row, a dashed line, the rows, a dashed line (ksqlDB's layout).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect::<Vec<_>>()
            .join("|")
    };
    let header = line(headers.to_vec());
    let dashes = "-".repeat(header.chars().count());
    let mut out = format!("{header}\n{dashes}\n");
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out.push_str(&dashes);
    out.push('\n');
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn field(v: &Value, name: &str) -> String {
    text(&v[name])
}

/// A type of ksqlDB's REST schema as its CLI names it (`VARCHAR(STRING)`, `ARRAY<INTEGER>`).
fn type_name(schema: &Value) -> String {
    let base = field(schema, "type");
    match base.as_str() {
        "STRING" => "VARCHAR(STRING)".into(),
        "ARRAY" => format!("ARRAY<{}>", type_name(&schema["memberSchema"])),
        "MAP" => format!("MAP<STRING, {}>", type_name(&schema["memberSchema"])),
        "STRUCT" => format!(
            "STRUCT<{}>",
            schema["fields"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .map(|f| format!("{} {}", field(f, "name"), type_name(&f["schema"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        ),
        "DECIMAL" => format!(
            "DECIMAL({}, {})",
            text(&schema["parameters"]["precision"]),
            text(&schema["parameters"]["scale"])
        ),
        _ => base,
    }
}

fn rows_of(list: &Value, f: impl Fn(&Value) -> Vec<String>) -> Vec<Vec<String>> {
    list.as_array()
        .map(|a| a.iter().map(f).collect())
        .unwrap_or_default()
}

/// One entity of a `/ksql` answer, as the CLI prints it.
pub fn entity(e: &Value) -> String {
    match e["@type"].as_str().unwrap_or_default() {
        "currentStatus" => table(&["Message"], &[vec![field(&e["commandStatus"], "message")]]),
        "streams" | "tables" => {
            let (key, name) = if e["@type"] == "streams" {
                ("streams", "Stream Name")
            } else {
                ("tables", "Table Name")
            };
            table(
                &[
                    name,
                    "Kafka Topic",
                    "Key Format",
                    "Value Format",
                    "Windowed",
                ],
                &rows_of(&e[key], |s| {
                    vec![
                        field(s, "name"),
                        field(s, "topic"),
                        field(s, "keyFormat"),
                        field(s, "valueFormat"),
                        field(s, "isWindowed"),
                    ]
                }),
            )
        }
        "queries" => table(
            &[
                "Query ID",
                "Query Type",
                "Status",
                "Sink Name",
                "Sink Kafka Topic",
                "Query String",
            ],
            &rows_of(&e["queries"], |q| {
                vec![
                    field(q, "id"),
                    field(q, "queryType"),
                    format!("{}:1", field(q, "state")),
                    q["sinks"]
                        .as_array()
                        .map(|s| s.iter().map(text).collect::<Vec<_>>().join(","))
                        .unwrap_or_default(),
                    q["sinkKafkaTopics"]
                        .as_array()
                        .map(|s| s.iter().map(text).collect::<Vec<_>>().join(","))
                        .unwrap_or_default(),
                    field(q, "queryString").replace('\n', " "),
                ]
            }),
        ),
        "kafka_topics" => table(
            &["Kafka Topic", "Partitions", "Partition Replicas"],
            &rows_of(&e["topics"], |t| {
                let replicas = t["replicaInfo"].as_array().cloned().unwrap_or_default();
                vec![
                    field(t, "name"),
                    replicas.len().to_string(),
                    replicas.first().map(text).unwrap_or_default(),
                ]
            }),
        ),
        "properties" => table(
            &["Property", "Scope", "Value"],
            &rows_of(&e["properties"], |p| {
                vec![field(p, "name"), field(p, "scope"), field(p, "value")]
            }),
        ),
        "function_names" => table(
            &["Function Name", "Category"],
            &rows_of(&e["functions"], |f| {
                let kind = field(f, "type");
                vec![field(f, "name"), kind]
            }),
        ),
        "type_list" => {
            let rows = e["types"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(n, s)| vec![n.clone(), type_name(s)])
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            table(&["Type Name", "Schema"], &rows)
        }
        "sourceDescription" => {
            let d = &e["sourceDescription"];
            let is_table = d["type"] == "TABLE";
            let rows = rows_of(&d["fields"], |f| {
                let key = match (f["type"].as_str(), f["headerKey"].as_str()) {
                    (Some("KEY"), _) if is_table => "  (primary key)".to_string(),
                    (Some("KEY"), _) => "  (key)".to_string(),
                    (Some("HEADER"), Some(k)) => format!("  (header('{k}'))"),
                    (Some("HEADER"), None) => "  (headers)".to_string(),
                    _ => String::new(),
                };
                vec![
                    field(f, "name"),
                    format!("{}{key}", type_name(&f["schema"])),
                ]
            });
            format!(
                "\nName                 : {}\n{}For runtime statistics and query details run: DESCRIBE <Stream,Table> EXTENDED;\n",
                field(d, "name"),
                table(&["Field", "Type"], &rows)
            )
        }
        "queryDescription" => query_description(&e["queryDescription"]),
        _ => format!("{}\n", serde_json::to_string_pretty(e).unwrap_or_default()),
    }
}

/// `EXPLAIN`'s answer, laid out as ksqlDB's CLI lays it out.
fn query_description(d: &Value) -> String {
    let list = |v: &Value| {
        v.as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    };
    let statuses = d["ksqlHostQueryStatus"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(h, s)| format!("{h}={}", text(s)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let rows = rows_of(&d["fields"], |f| {
        let key = if f["type"] == "KEY" { "  (key)" } else { "" };
        vec![
            field(f, "name"),
            format!("{}{key}", type_name(&f["schema"])),
        ]
    });
    let mut out = format!(
        "\nID                   : {}\nQuery Type           : {}\nSQL                  : {}\nHost Query Status    : {{{statuses}}}\n\n{}",
        field(d, "id"),
        field(d, "queryType"),
        field(d, "statementText"),
        table(&["Field", "Type"], &rows)
    );
    out.push_str(&format!(
        "\nSources that this query reads from: \n-----------------------------------\n{}\n\nFor source description please run: DESCRIBE [EXTENDED] <SourceId>\n",
        list(&d["sources"])
    ));
    out.push_str(&format!(
        "\nSinks that this query writes to: \n-----------------------------------\n{}\n\nFor sink description please run: DESCRIBE [EXTENDED] <SinkId>\n",
        list(&d["sinks"])
    ));
    out.push_str(&format!(
        "\nExecution plan      \n--------------      \n{}\nProcessing topology \n------------------- \n{}\n",
        field(d, "executionPlan"),
        field(d, "topology")
    ));
    let overridden: Vec<Vec<String>> = d["overriddenProperties"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| vec![k.clone(), text(v)]).collect())
        .unwrap_or_default();
    if !overridden.is_empty() {
        out.push_str("\nOverridden Properties\n---------------------\n");
        out.push_str(&table(&["Property", "Value"], &overridden));
    }
    out
}

/// The width of each column of a push query's rows (the terminal's width shared out).
pub fn column_width(columns: usize, terminal: usize) -> usize {
    (terminal.saturating_sub(1) / columns.max(1))
        .saturating_sub(1)
        .max(8)
}

/// The box a push query's rows print in: its border, and its header between two borders.
pub fn query_header(names: &[String], width: usize) -> (String, String) {
    let border = format!(
        "+{}+",
        names
            .iter()
            .map(|_| "-".repeat(width))
            .collect::<Vec<_>>()
            .join("+")
    );
    let header = format!("{border}\n{}\n{border}", query_row(names, width));
    (border, header)
}

/// One row of a push query (values wider than the column wrap onto more lines).
pub fn query_row(values: &[String], width: usize) -> String {
    let cut: Vec<Vec<String>> = values
        .iter()
        .map(|v| {
            let chars: Vec<char> = v.chars().collect();
            if chars.is_empty() {
                vec![String::new()]
            } else {
                chars.chunks(width).map(|c| c.iter().collect()).collect()
            }
        })
        .collect();
    let lines = cut.iter().map(Vec::len).max().unwrap_or(1);
    (0..lines)
        .map(|l| {
            let cells: Vec<String> = cut
                .iter()
                .map(|c| format!("{:<width$}", c.get(l).map_or("", String::as_str)))
                .collect();
            format!("|{}|", cells.join("|"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A value of a row as the CLI shows it (strings bare, the rest as JSON).
pub fn cell(v: &Value) -> String {
    text(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_are_laid_out_as_ksqldb_lays_them_out() {
        let status =
            json!({"@type": "currentStatus", "commandStatus": {"message": "Stream created"}});
        assert_eq!(
            entity(&status),
            " Message        \n----------------\n Stream created \n----------------\n"
        );
        let (_, header) = query_header(&["A".into(), "B".into()], 8);
        assert_eq!(
            header,
            "+--------+--------+\n|A       |B       |\n+--------+--------+"
        );
        assert_eq!(
            query_row(&["abcdefghij".into(), "x".into()], 8),
            "|abcdefgh|x       |\n|ij      |        |"
        );
    }
}
