//! Page views per user per window (a minute by default), each window's count written once,
//! when the window has closed: a tumbling-window count with emit-final (`suppress`).
//!
//! Input: key = the user (UTF-8), value = the page (anything; records without a user are
//! skipped). Output: key = the user, value = [`ViewsPerWindow`] as JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tributary_streams::{
    BufferConfig, Consumed, Grouped, Produced, Serdes, StreamsBuilder, StreamsError, Suppressed,
    TimeWindows, Topology, Windowed,
};

/// One user's views in one window, as the output topic holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewsPerWindow {
    /// The user.
    pub user: String,
    /// The window's first millisecond.
    pub window_start: i64,
    /// The window's end (excluded).
    pub window_end: i64,
    /// The views in the window.
    pub views: i64,
}

/// The topology: views from `input`, counted per user in tumbling windows of `window` that
/// accept late views for `grace`, each final count written to `output`.
pub fn topology(
    input: &str,
    output: &str,
    window: Duration,
    grace: Duration,
) -> Result<Topology, StreamsError> {
    let text = || Serdes::nullable(Serdes::string());
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input,
            Consumed::with(text(), Serdes::nullable(Serdes::byte_array())),
        )
        .group_by_key(Grouped::with(
            text(),
            Serdes::nullable(Serdes::byte_array()),
        ))
        .windowed_by(TimeWindows::of_size_and_grace(window, grace)?)
        .count()
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .map(|k: &Windowed<Option<String>>, views: &Option<i64>| {
            let user = k.key.clone().unwrap_or_default();
            let row = ViewsPerWindow {
                user: user.clone(),
                window_start: k.window.start,
                window_end: k.window.end,
                views: views.unwrap_or(0),
            };
            (user, row)
        })
        .to(output, Produced::with(Serdes::string(), Serdes::json()));
    builder.build()
}
