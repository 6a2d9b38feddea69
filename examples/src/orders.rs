//! Orders enriched from a customers table: a stream-table join. Each order (keyed by customer
//! id) is joined with the customer's current row; orders of unknown customers go on with
//! `customer: null` (a left join), so none is lost.
//!
//! Input: `orders` (key = customer id, value = [`Order`] as JSON) and `customers` (key =
//! customer id, value = [`Customer`] as JSON; a tombstone deletes the customer), with as many
//! partitions as each other. Output: key = customer id, value = [`EnrichedOrder`] as JSON.

use serde::{Deserialize, Serialize};
use tributary_streams::{
    Consumed, Joined, Materialized, Produced, Serdes, StreamsBuilder, StreamsError, Topology,
};

/// An order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The order's id.
    pub id: String,
    /// What was ordered.
    pub item: String,
    /// How much it costs.
    pub amount: f64,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The name.
    pub name: String,
    /// Where the customer lives.
    #[serde(default)]
    pub city: String,
}

/// An order with its customer (`None`: unknown when the order came).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichedOrder {
    /// The order.
    pub order: Order,
    /// The customer.
    pub customer: Option<Customer>,
}

/// The topology: `orders` joined with the table of `customers`, to `output`.
pub fn topology(orders: &str, customers: &str, output: &str) -> Result<Topology, StreamsError> {
    let id = || Serdes::nullable(Serdes::string());
    let builder = StreamsBuilder::new();
    let customers = builder.table(
        customers,
        Consumed::with(id(), Serdes::json::<Customer>()),
        Materialized::named("customers"),
    );
    builder
        .stream(
            orders,
            Consumed::with(id(), Serdes::nullable(Serdes::json::<Order>())),
        )
        .left_join(
            &customers,
            |order: &Option<Order>, customer: Option<&Customer>| {
                // (orders without a value are skipped before the joiner)
                order.clone().map(|order| EnrichedOrder {
                    order,
                    customer: customer.cloned(),
                })
            },
            Joined::new(),
        )
        .filter(|_, e: &Option<EnrichedOrder>| e.is_some())
        .map_values(|e: &Option<EnrichedOrder>| e.clone())
        .to(
            output,
            Produced::with(id(), Serdes::nullable(Serdes::json())),
        );
    builder.build()
}
