//! The bundled schemas of Confluent's `quickstart` setting, by name, with the field each is
//! keyed by (the schema field names, types and generator arguments are Confluent's data,
//! written here one field a line).

/// A bundled schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quickstart {
    /// The `quickstart` value (matched ignoring case).
    pub name: &'static str,
    /// The field the records are keyed by when `schema.keyfield` is not set.
    pub key_field: &'static str,
    /// The Avro schema with its `arg.properties`.
    pub schema: &'static str,
}

/// The quickstarts this connector bundles.
pub const ALL: &[Quickstart] = &[
    Quickstart {
        name: "users",
        key_field: "userid",
        schema: r#"{"namespace": "ksql", "name": "users", "type": "record", "fields": [
  {"name": "registertime", "type": {"type": "long", "arg.properties": {"range": {"min": 1487715775521, "max": 1519273364600}}}},
  {"name": "userid", "type": {"type": "string", "arg.properties": {"regex": "User_[1-9]"}}},
  {"name": "regionid", "type": {"type": "string", "arg.properties": {"regex": "Region_[1-9]"}}},
  {"name": "gender", "type": {"type": "string", "arg.properties": {"options": ["MALE", "FEMALE", "OTHER"]}}}
]}"#,
    },
    Quickstart {
        name: "users_",
        key_field: "userid",
        schema: r#"{"namespace": "ksql", "name": "users", "type": "record", "fields": [
  {"name": "registertime", "type": {"type": "long", "arg.properties": {"range": {"min": 1487715775521, "max": 1519273364600}}}},
  {"name": "userid", "type": {"type": "string", "arg.properties": {"regex": "User_[1-9]"}}},
  {"name": "regionid", "type": {"type": "string", "arg.properties": {"regex": "Region_[1-9]"}}},
  {"name": "gender", "type": {"type": "string", "arg.properties": {"options": ["MALE", "FEMALE", "OTHER"]}}},
  {"name": "interests", "type": {"type": "array", "items": "string", "arg.properties": {"options": [["Game", "News"], ["Game", "Sport"], ["News", "Movies"], ["News", "Travel"]]}}},
  {"name": "contactinfo", "type": {"type": "map", "values": "string", "arg.properties": {"options": [{"phone": "6503349999", "city": "San Mateo", "state": "CA", "zipcode": "94403"}, {"phone": "9492229999", "city": "Irvine", "state": "CA", "zipcode": "92617"}, {"phone": "6503889999", "city": "Palo Alto", "state": "CA", "zipcode": "94301"}, {"phone": "4083366881", "city": "San Jose", "state": "CA", "zipcode": "95112"}, {"phone": "6502215368", "city": "San Carlos", "state": "CA", "zipcode": "94070"}]}}}
]}"#,
    },
    Quickstart {
        name: "pageviews",
        key_field: "viewtime",
        schema: r#"{"namespace": "ksql", "name": "pageviews", "type": "record", "fields": [
  {"name": "viewtime", "type": {"type": "long", "format_as_time": "unix_long", "arg.properties": {"iteration": {"start": 1, "step": 10}}}},
  {"name": "userid", "type": {"type": "string", "arg.properties": {"regex": "User_[1-9]"}}},
  {"name": "pageid", "type": {"type": "string", "arg.properties": {"regex": "Page_[1-9][0-9]"}}}
]}"#,
    },
    Quickstart {
        name: "orders",
        key_field: "orderid",
        schema: r#"{"namespace": "ksql", "name": "orders", "type": "record", "fields": [
  {"name": "ordertime", "type": {"type": "long", "arg.properties": {"range": {"min": 1487715775521, "max": 1519273364600}}}},
  {"name": "orderid", "type": {"type": "int", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "itemid", "type": {"type": "string", "arg.properties": {"regex": "Item_[1-9][0-9]{0,2}"}}},
  {"name": "orderunits", "type": {"type": "double", "arg.properties": {"range": {"min": 0.1, "max": 10.0}}}},
  {"name": "address", "type": {"name": "address", "type": "record", "fields": [{"name": "city", "type": {"type": "string", "arg.properties": {"regex": "City_[1-9]{0,2}"}}}, {"name": "state", "type": {"type": "string", "arg.properties": {"regex": "State_[1-9]{0,2}"}}}, {"name": "zipcode", "type": {"type": "long", "arg.properties": {"range": {"min": 10000, "max": 99999}}}}]}}
]}"#,
    },
    Quickstart {
        name: "ratings",
        key_field: "rating_id",
        schema: r#"{"namespace": "ksql", "name": "ratings", "type": "record", "fields": [
  {"name": "rating_id", "type": {"type": "long", "arg.properties": {"iteration": {"start": 1}}}},
  {"name": "user_id", "type": {"type": "int", "arg.properties": {"range": {"min": -1, "max": 20}}}},
  {"name": "stars", "type": {"type": "int", "arg.properties": {"range": {"min": 1, "max": 5}}}},
  {"name": "route_id", "type": {"type": "int", "arg.properties": {"range": {"min": 1, "max": 9999}}}},
  {"name": "rating_time", "type": {"type": "long", "format_as_time": "unix_long", "arg.properties": {"iteration": {"start": 1, "step": 12}}}},
  {"name": "channel", "type": {"type": "string", "arg.properties": {"options": ["web", "iOS", "ios", "iOS-test", "android"]}}},
  {"name": "message", "type": {"type": "string", "arg.properties": {"options": ["worst. flight. ever. #neveragain", "Surprisingly good, maybe you are getting your mojo back at long last!", "Exceeded all my expectations. Thank you !", "meh", "(expletive deleted)", "is this as good as it gets? really ?", "airport refurb looks great, will fly outta here more!", "why is it so difficult to keep the bathrooms clean ?", "thank you for the most friendly, helpful experience today at your new lounge", "more peanuts please", "your team here rocks!"]}}}
]}"#,
    },
    Quickstart {
        name: "stock_trades",
        key_field: "symbol",
        schema: r#"{"namespace": "ksql", "name": "StockTrade", "doc": "Defines a hypothetical stock trade using some known test stock symbols.", "type": "record", "fields": [
  {"name": "side", "doc": "A simulated trade side (buy or sell or short)", "type": {"type": "string", "arg.properties": {"options": ["BUY", "SELL"]}}},
  {"name": "quantity", "doc": "A simulated random quantity of the trade", "type": {"type": "int", "arg.properties": {"range": {"min": 1, "max": 5000}}}},
  {"name": "symbol", "doc": "Simulated stock symbols", "type": {"type": "string", "arg.properties": {"options": ["ZBZX", "ZJZZT", "ZTEST", "ZVV", "ZVZZT", "ZWZZT", "ZXZZT"]}}},
  {"name": "price", "doc": "A simulated random trade price in pennies", "type": {"type": "int", "arg.properties": {"range": {"min": 5, "max": 1000}}}},
  {"name": "account", "doc": "Simulated accounts assigned to the trade", "type": {"type": "string", "arg.properties": {"options": ["ABC123", "LMN456", "XYZ789"]}}},
  {"name": "userid", "doc": "The simulated user who executed the trade", "type": {"type": "string", "arg.properties": {"regex": "User_[1-9]"}}}
]}"#,
    },
    Quickstart {
        name: "clickstream_codes",
        key_field: "code",
        schema: r#"{"namespace": "clickstream", "name": "codes", "type": "record", "fields": [
  {"name": "code", "type": "int"},
  {"name": "definition", "type": "string"}
], "arg.properties": {"options": [{"code": 200, "definition": "Successful"}, {"code": 302, "definition": "Redirect"}, {"code": 404, "definition": "Page not found"}, {"code": 405, "definition": "Method not allowed"}, {"code": 406, "definition": "Not acceptable"}, {"code": 407, "definition": "Proxy authentication required"}]}}"#,
    },
    Quickstart {
        name: "clickstream_users",
        key_field: "user_id",
        schema: r#"{"namespace": "clickstream", "name": "users", "type": "record", "fields": [
  {"name": "user_id", "type": {"type": "int", "arg.properties": {"iteration": {"start": 1}}}},
  {"name": "username", "type": {"type": "string", "arg.properties": {"options": ["akatz1022", "bobk_43", "alison_99", "k_robertz_88", "Ferd88", "Reeva43", "Antonio_0966", "ArlyneW8ter", "DimitriSchenz88", "Oriana_70", "AbdelKable_86", "Roberto_123", "AlanGreta_GG66", "Nathan_126", "AndySims_345324", "GlenAlan_23344", "LukeWaters_23", "BenSteins_235"]}}},
  {"name": "registered_at", "type": {"type": "long", "arg.properties": {"range": {"min": 1407645330000, "max": 1502339792000}}}},
  {"name": "first_name", "type": {"type": "string", "arg.properties": {"options": ["Elwyn", "Curran", "Hanson", "Woodrow", "Ferd", "Reeva", "Antonio", "Arlyne", "Dimitri", "Oriana", "Abdel", "Greta"]}}},
  {"name": "last_name", "type": {"type": "string", "arg.properties": {"options": ["Vanyard", "Vears", "Garrity", "Trice", "Tomini", "Jushcke", "De Banke", "Pask", "Rockhill", "Romagosa", "Adicot", "Lalonde"]}}},
  {"name": "city", "type": {"type": "string", "arg.properties": {"options": ["Palo Alto", "San Francisco", "Raleigh", "London", "Frankfurt", "New York"]}}},
  {"name": "level", "type": {"type": "string", "arg.properties": {"options": ["Gold", "Silver", "Platinum"]}}}
]}"#,
    },
    Quickstart {
        name: "inventory",
        key_field: "id",
        schema: r#"{"namespace": "ksql", "name": "inventory", "type": "record", "fields": [
  {"name": "id", "type": {"type": "long", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "quantity", "type": {"type": "long", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "productid", "type": {"type": "long", "arg.properties": {"iteration": {"start": 0}}}}
]}"#,
    },
    Quickstart {
        name: "product",
        key_field: "id",
        schema: r#"{"namespace": "ksql", "name": "product", "type": "record", "fields": [
  {"name": "id", "type": {"type": "long", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "name", "type": {"type": "string", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "description", "type": {"type": "string", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "price", "type": {"type": "double", "arg.properties": {"iteration": {"start": 0}}}}
]}"#,
    },
    Quickstart {
        name: "transactions",
        key_field: "transaction_id",
        schema: r#"{"namespace": "datagen.example", "name": "transactions", "type": "record", "fields": [
  {"name": "transaction_id", "type": {"type": "long", "arg.properties": {"iteration": {"start": 1}}}},
  {"name": "card_id", "type": {"type": "long", "arg.properties": {"range": {"min": 1, "max": 24}}}},
  {"name": "user_id", "type": {"type": "string", "arg.properties": {"regex": "User_[1-9]{0,1}"}}},
  {"name": "purchase_id", "type": {"type": "long", "arg.properties": {"iteration": {"start": 0}}}},
  {"name": "store_id", "type": {"type": "int", "arg.properties": {"range": {"min": 1, "max": 7}}}}
]}"#,
    },
    Quickstart {
        name: "stores",
        key_field: "store_id",
        schema: r#"{"namespace": "datagen.example", "name": "stores", "type": "record", "fields": [
  {"name": "store_id", "type": "int"},
  {"name": "city", "type": "string"},
  {"name": "state", "type": "string"}
], "arg.properties": {"options": [{"store_id": 1, "city": "Raleigh", "state": "NC"}, {"store_id": 2, "city": "Chicago", "state": "IL"}, {"store_id": 3, "city": "Sacramento", "state": "CA"}, {"store_id": 4, "city": "Austin", "state": "TX"}, {"store_id": 5, "city": "Boston", "state": "MA"}, {"store_id": 6, "city": "Atlanta", "state": "GA"}, {"store_id": 7, "city": "Lexington", "state": "SC"}]}}"#,
    },
    Quickstart {
        name: "fleet_mgmt_sensors",
        key_field: "vehicle_id",
        schema: r#"{"namespace": "fleet_mgmt", "name": "fleet_mgmt_sensors", "type": "record", "fields": [
  {"name": "vehicle_id", "type": {"type": "int", "arg.properties": {"range": {"min": 1000, "max": 9999}}}},
  {"name": "engine_temperature", "type": {"type": "int", "arg.properties": {"range": {"min": 150, "max": 250}}}},
  {"name": "average_rpm", "type": {"type": "int", "arg.properties": {"range": {"min": 1800, "max": 5000}}}}
]}"#,
    },
    Quickstart {
        name: "gaming_games",
        key_field: "id",
        schema: r#"{"namespace": "gaming", "name": "gaming_games", "type": "record", "fields": [
  {"name": "id", "type": {"type": "int", "arg.properties": {"range": {"min": 1000, "max": 5000}}}},
  {"name": "room_name", "type": {"type": "string", "arg.properties": {"options": ["Arcade -- Rookie", "Arcade -- Skilled", "Arcade -- Expert", "Survival -- Rookie", "Survival -- Skilled", "Survival -- Expert", "Classic -- Rookie", "Classic -- Skilled", "Classic -- Expert"]}}},
  {"name": "created_date", "type": {"type": "long", "logicalType": "timestamp-millis", "arg.properties": {"iteration": {"start": 1609459200000, "step": 100000}}}}
]}"#,
    },
];

/// The quickstart of this name, ignoring case.
pub fn find(name: &str) -> Option<&'static Quickstart> {
    ALL.iter()
        .find(|q| q.name.eq_ignore_ascii_case(name.trim()))
}

/// The names, comma-separated (for error messages).
pub fn names() -> String {
    ALL.iter().map(|q| q.name).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::super::schema::parse;
    use super::*;

    #[test]
    fn every_quickstart_parses_and_has_its_key_field() {
        for q in ALL {
            let node = parse(q.schema).unwrap_or_else(|e| panic!("{}: {e}", q.name));
            assert!(node.schema.field(q.key_field).is_some(), "{}", q.name);
        }
        assert_eq!(find("USERS").map(|q| q.key_field), Some("userid"));
        assert!(find("nope").is_none());
    }
}
