//! Orders enriched from a customers table (a stream-table join).
//!
//! ```text
//! cargo run --release -p tributary-examples --example orders -- \
//!     --bootstrap-server HOST:PORT [--orders orders] [--customers customers] [--output orders-enriched]
//! ```
//!
//! Orders: key = customer id, value = `{"id":..,"item":..,"amount":..}`. Customers: key =
//! customer id, value = `{"name":..,"city":..}`. Output: key = customer id, value =
//! `{"order":{..},"customer":{..} or null}`. Both inputs need as many partitions as each other.

use clap::Parser;
use tributary_examples::app::{self, AppArgs};

#[derive(Parser)]
#[command(about = "Enriches orders with their customers (a stream-table join)")]
struct Args {
    /// The topic of orders (key: customer id).
    #[arg(long, default_value = "orders")]
    orders: String,
    /// The topic of customers (key: customer id).
    #[arg(long, default_value = "customers")]
    customers: String,
    /// The topic of enriched orders.
    #[arg(long, default_value = "orders-enriched")]
    output: String,
    /// The application id.
    #[arg(long, default_value = "orders-enrichment")]
    application_id: String,
    #[command(flatten)]
    app: AppArgs,
}

fn main() -> anyhow::Result<()> {
    app::init_logging();
    let args = Args::parse();
    let topology =
        tributary_examples::orders::topology(&args.orders, &args.customers, &args.output)?;
    app::run(topology, args.app.config(&args.application_id, &[]))
}
